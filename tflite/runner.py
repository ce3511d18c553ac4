"""Desktop LiteRT runner for kerasseg ``.tflite`` segmenters: images, GIFs and video files → masks and overlays.

    python -m tflite.runner model.tflite photo.jpg frames.gif clip.mp4 --out results/

The pre- and post-processing contract is the phone's (MediaPipe ImageSegmenter, the Android and web demos):

1. the RGB frame is resized bilinearly (half-pixel centres) to the model's input size; the model takes the
   pixels in [0, 255] as they are (float32 input) or as uint8 (int8 exports), with no mean/std applied here
   since the model normalizes inside;
2. the output logits (1, h, w, classes) are resized bilinearly back to the frame's size and the category mask
   is their per-pixel argmax; quantized outputs are dequantized first.

Dependencies: numpy, Pillow and LiteRT (``ai-edge-litert``; TensorFlow's interpreter is the fallback). Video
files (.mp4, .avi, .mov, .mkv) need OpenCV, which kerasseg already installs through albumentations
(``opencv-python-headless``); GIFs and still images need only Pillow.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def palette(classes: int) -> np.ndarray:
    """The PASCAL VOC colour map: class bits spread over the high bits of R, G and B, (classes, 3) uint8."""
    colours = np.zeros((classes, 3), np.uint8)
    for c in range(classes):
        value, shift = c, 7
        while value:
            for channel in range(3):
                colours[c, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
    return colours


def resize_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (H, W, C) with half-pixel centres (TensorFlow's and MediaPipe's convention)."""
    h, w = array.shape[:2]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        return array.astype(np.float32)

    def axis(n_in, n_out):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, wy = axis(h, out_h)
    x0, x1, wx = axis(w, out_w)
    a = array.astype(np.float32)
    rows = a[y0] * (1 - wy)[:, None, None] + a[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


class Segmenter:
    """A ``.tflite`` segmenter with the phone's pre/post-processing: ``segment(rgb) -> (mask, logits)``."""

    def __init__(self, model_path: str, num_threads: int = 2):
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"model {model_path} does not exist")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            from tensorflow.lite.python.interpreter import Interpreter
        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.size = (int(self.input["shape"][1]), int(self.input["shape"][2]))
        self.classes = int(self.output["shape"][-1])
        self.labels = read_labels(model_path) or [f"class_{i}" for i in range(self.classes)]

    def segment(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Category mask (H, W) uint8 and logits (H, W, classes) for an RGB frame (H, W, 3) uint8."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB frame (H, W, 3), got {rgb.shape}")
        x = resize_bilinear(rgb, self.size)[None]
        if self.input["dtype"] == np.uint8:
            x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        self.interpreter.set_tensor(self.input["index"], x.astype(self.input["dtype"]))
        self.interpreter.invoke()
        logits = self.interpreter.get_tensor(self.output["index"])[0]
        if self.output["dtype"] in (np.uint8, np.int8):
            scale, zero = self.output["quantization"]
            logits = (logits.astype(np.float32) - zero) * scale
        logits = resize_bilinear(logits, rgb.shape[:2])
        return logits.argmax(-1).astype(np.uint8), logits


def read_labels(model_path: str) -> list[str] | None:
    """The label map a kerasseg export carries in its metadata (a zip appended to the flatbuffer)."""
    try:
        with zipfile.ZipFile(model_path) as archive:
            return [line for line in archive.read("labels.txt").decode("utf-8").splitlines() if line]
    except (zipfile.BadZipFile, KeyError):
        return None


def overlay(rgb: np.ndarray, mask: np.ndarray, colours: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The frame with each class's colour blended in at ``alpha``; class 0 (the background) is left as it is.

    The Android app (``Palette.kt``) and the web demo (``app.mjs``) draw the same: VOC colours at half opacity,
    class 0 not drawn.
    """
    blended = (1 - alpha) * rgb.astype(np.float32) + alpha * colours[mask].astype(np.float32)
    blended = np.where((mask == 0)[..., None], rgb.astype(np.float32), blended)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _frames_of_image(path: Path):
    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            yield np.asarray(frame.convert("RGB"))


def _frames_of_video(path: Path):
    cv2 = _opencv()
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"OpenCV cannot open the video {path}")
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield bgr[..., ::-1].copy()
    finally:
        capture.release()


def _opencv():
    try:
        import cv2
    except ImportError as err:
        raise ImportError("video files need OpenCV: pip install opencv-python-headless") from err
    return cv2


def _fps(path: Path) -> float:
    cv2 = _opencv()
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    return float(fps)


def process(segmenter: Segmenter, source: Path, out_dir: Path, alpha: float = 0.5) -> dict:
    """Segments every frame of ``source``; writes ``<stem>_mask.png`` / ``<stem>_overlay.png`` for a still image,
    ``<stem>_overlay.gif`` for a GIF and ``<stem>_overlay.mp4`` for a video. Returns a summary dict."""
    suffix = source.suffix.lower()
    if not source.is_file():
        raise FileNotFoundError(f"input {source} does not exist")
    if suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise ValueError(f"unsupported input {source}; images {IMAGE_SUFFIXES}, videos {VIDEO_SUFFIXES}")
    out_dir.mkdir(parents=True, exist_ok=True)
    colours = palette(segmenter.classes)
    frames = _frames_of_video(source) if suffix in VIDEO_SUFFIXES else _frames_of_image(source)
    overlays, counts, first_mask = [], np.zeros(segmenter.classes, np.int64), None
    for rgb in frames:
        mask, _ = segmenter.segment(rgb)
        first_mask = mask if first_mask is None else first_mask
        counts += np.bincount(mask.ravel(), minlength=segmenter.classes)
        overlays.append(overlay(rgb, mask, colours, alpha))
    if not overlays:
        raise ValueError(f"{source} has no frames")
    written = _write(source, out_dir, overlays, first_mask, colours, suffix)
    fractions = counts / counts.sum()
    return {
        "input": str(source),
        "frames": len(overlays),
        "outputs": [str(p) for p in written],
        "classes": {segmenter.labels[c]: float(f) for c, f in enumerate(fractions) if f > 0},
    }


def _write(source, out_dir, overlays, first_mask, colours, suffix) -> list[Path]:
    stem = source.stem
    if suffix in VIDEO_SUFFIXES:
        cv2 = _opencv()
        path = out_dir / f"{stem}_overlay.mp4"
        tmp = out_dir / f".{stem}_overlay.tmp.mp4"
        h, w = overlays[0].shape[:2]
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), _fps(source), (w, h))
        for frame in overlays:
            writer.write(frame[..., ::-1])
        writer.release()
        tmp.replace(path)
        return [path]
    if len(overlays) > 1:
        path = out_dir / f"{stem}_overlay.gif"
        tmp = out_dir / f".{stem}_overlay.tmp.gif"
        images = [Image.fromarray(frame) for frame in overlays]
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0)
        tmp.replace(path)
        return [path]
    mask_image = Image.fromarray(first_mask, mode="P")
    mask_image.putpalette(colours.ravel().tolist())
    written = []
    for name, image in ((f"{stem}_mask.png", mask_image), (f"{stem}_overlay.png", Image.fromarray(overlays[0]))):
        tmp = out_dir / f".{name}.tmp"
        image.save(tmp, format="PNG")
        tmp.replace(out_dir / name)
        written.append(out_dir / name)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tflite.runner", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a kerasseg .tflite export")
    parser.add_argument("inputs", nargs="+", help="images (.png, .jpg, .gif, ...) or video files (.mp4, ...)")
    parser.add_argument("--out", default="tflite-results", help="output folder (default: ./tflite-results)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity of the mask colours")
    args = parser.parse_args(argv)
    try:
        segmenter = Segmenter(args.model, args.threads)
        for source in args.inputs:
            summary = process(segmenter, Path(source), Path(args.out), args.alpha)
            shares = ", ".join(f"{k} {v:.1%}" for k, v in sorted(summary["classes"].items(), key=lambda kv: -kv[1]))
            print(f"{source}: {summary['frames']} frame(s) → {', '.join(summary['outputs'])}  [{shares}]")
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"tflite.runner: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
