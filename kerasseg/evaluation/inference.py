"""Test-time inference: softmax probabilities at several scales, with horizontal flips, by sliding window.

Reference: Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, section 5 (multi-scale testing at scales
0.5, 0.75, 1.0, 1.25, 1.5, 1.75 and flipping, probabilities averaged; sliding-window evaluation of images
larger than the training crop) and Chen et al., DeepLabv3+, ECCV 2018, section 4 (the same protocol).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

# Padding value for windows that overhang the image: the ImageNet mean RGB, which the backbones' own
# preprocessing maps to (about) zero, as PSPNet pads with the mean.
IMAGENET_MEAN_RGB = (123.68, 116.78, 103.94)

ModelLike = keras.Model | Callable[[np.ndarray], np.ndarray]
# Test-time scales: PSPNet's and DeepLab's protocols use 0.5-2.0; far outside, an image is scored on a few pixels
# (or on a huge upsampling) and the result says nothing about the model.
SCALE_RANGE = (0.25, 4.0)
# Sliding windows per image and scale: a crop of 1x1 on a 360x480 frame would take 172,800 (hours, silently).
MAX_WINDOWS = 1024


def load_model(path, compile: bool = True) -> keras.Model:
    """Loads a saved ``.keras`` model with ``safe_mode`` (kerasseg's layers, losses and metrics registered);
    a missing file is a ``FileNotFoundError``, a damaged one a ``ValueError`` that says so."""
    import zipfile
    from pathlib import Path

    import kerasseg.losses  # noqa: F401  (registers the serializable classes a compiled model refers to)
    import kerasseg.metrics  # noqa: F401
    import kerasseg.models  # noqa: F401

    if Path(path).is_dir():
        raise ValueError(f"model file {path} is a folder; give the .keras file (a run folder holds best.keras)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if Path(path).suffix.lower() in (".tflite", ".onnx"):
        raise ValueError(
            f"model file {path} is an export ({Path(path).suffix}), not a saved Keras model: give the .keras file it "
            "was exported from"
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model file {path} is damaged: not a .keras archive (truncated or another format?)")
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - zip, h5py and deserialization errors alike
        raise _load_error(path, err) from None


def _load_error(path, err: Exception) -> ValueError:
    """A load failure in one line: a layer class this process does not know is named, with the way out."""
    import re

    missing = re.search(r"Could not locate (?:class|function) '([^']+)'", str(err))
    if missing:
        registered = re.search(r"'registered_name': '([^']+)'", str(err)[missing.end():])  # its own config
        name = registered.group(1) if registered else missing.group(1)
        return ValueError(
            f"model file {path} uses the custom class {name!r}, which is not registered in this process: import "
            "the module that defines it (decorated with @keras.saving.register_keras_serializable) before loading"
        )
    return ValueError(f"model file {path} is damaged or not a kerasseg model: {str(err).splitlines()[0]}")


def input_multiple(model: ModelLike) -> int:
    """The multiple an any-size Keras model pads its input to (its ``PadToMultiple`` layer), else 1."""
    layers = model.layers if isinstance(model, keras.Model) else []
    return max([int(layer.multiple) for layer in layers if hasattr(layer, "multiple")] or [1])


def check_scales(scales: Sequence[float]) -> None:
    """Test-time ``scales``: finite numbers in :data:`SCALE_RANGE`."""
    low, high = SCALE_RANGE
    bad = [s for s in scales if not (math.isfinite(s) and low <= s <= high)]
    if not scales or bad:
        raise ValueError(f"scales must be numbers from {low:g} to {high:g}, got {list(scales)}")


def check_inference_options(model: ModelLike, scales: Sequence[float] = (1.0,), crop_size=None) -> None:
    """``scales`` and the sliding window ``crop_size`` in range for ``model``, before any image is
    read: a fixed-size model's crop is its size; an any-size model's is at least its input multiple (and, per
    image, few enough windows: :func:`check_window_count`)."""
    check_scales(scales)
    if crop_size is None:
        return
    crop = tuple(int(c) for c in crop_size)
    fixed = fixed_input_size(model)
    if fixed is not None and crop != fixed:
        raise ValueError(f"the model takes {fixed[0]}x{fixed[1]} inputs; crop_size {crop} must be that size")
    least = input_multiple(model)
    if len(crop) != 2 or min(crop) < least:
        raise ValueError(
            f"crop_size {crop_size} is too small: the model's windows must be at least "
            f"{least}x{least} pixels (its input multiple)"
        )


def _window_count(size: tuple[int, int], crop: tuple[int, int], overlap: float) -> int:
    return math.prod(
        len(window_starts(n, c, max(1, math.ceil(c * (1 - overlap))))) for n, c in zip(size, crop, strict=True)
    )


def check_window_count(size: tuple[int, int], crop: tuple[int, int], overlap: float = 1 / 3) -> None:
    """Refuses a sliding window so small that an image of ``size`` takes more than :data:`MAX_WINDOWS` windows,
    naming the smallest square crop that does not."""
    count = _window_count(size, crop, overlap)
    if count > MAX_WINDOWS:
        least = next(c for c in range(1, max(size) + 1) if _window_count(size, (c, c), overlap) <= MAX_WINDOWS)
        raise ValueError(
            f"crop_size {tuple(crop)} is too small for a {size[0]}x{size[1]} image: {count:,} sliding "
            f"windows (at most {MAX_WINDOWS:,}); give at least crop_size=({least}, {least})"
        )


def model_logits(model: ModelLike, images: np.ndarray) -> np.ndarray:
    """Logits (batch, H, W, classes) of a Keras model, or of any callable ``images -> logits`` (e.g. a LiteRT
    runner).

    Keras models run eagerly rather than through ``predict_on_batch``: test-time inputs change size (scales,
    images of different sizes), and a traced predict function would retrace for each size.
    """
    out = model(images, training=False) if isinstance(model, keras.Model) else model(images)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fixed_input_size(model: ModelLike) -> tuple[int, int] | None:
    """(H, W) of a Keras model built for one input size, ``None`` for ``(None, None, 3)`` models and callables."""
    if not isinstance(model, keras.Model):
        return None
    h, w = model.inputs[0].shape[1:3]
    return (int(h), int(w)) if h is not None and w is not None else None


def resize(images, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Images (or probabilities) (H, W, C) or (batch, H, W, C) at ``size``, bilinear with half-pixel centres like
    the models' own resizing, as float32; or label masks (H, W) or (batch, H, W) with ``"nearest"``, their labels
    and dtype kept. Evaluation's scales and export's check data and calibration images all resize through here."""
    images = np.asarray(images)
    masks = interpolation == "nearest"
    x = images[..., None] if masks else images.astype("float32", copy=False)
    if tuple(x.shape[-3:-1]) != tuple(size):
        x = np.asarray(keras.ops.convert_to_numpy(keras.ops.image.resize(x, size, interpolation=interpolation)))
    return x[..., 0] if masks else x


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Top (or left) offsets of windows of ``crop`` pixels covering ``size``; the last window ends at the edge."""
    if size <= crop:
        return [0]
    count = math.ceil((size - crop) / stride) + 1
    return sorted({min(i * stride, size - crop) for i in range(count)})


def sliding_window_probabilities(
    model: ModelLike,
    images: np.ndarray,
    crop_size: tuple[int, int],
    overlap: float = 1 / 3,
    windows_per_batch=8,
) -> np.ndarray:
    """Softmax probabilities of overlapping ``crop_size`` windows, averaged where windows overlap.

    Images smaller than the crop are padded at the bottom and right with the ImageNet mean colour, and the
    padding is cropped off the result. Windows step by ``ceil(crop * (1 - overlap))`` pixels.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    batch, h, w, _ = images.shape
    ch, cw = crop_size
    check_window_count((h, w), (ch, cw), overlap)
    padded_h, padded_w = max(h, ch), max(w, cw)
    padded = np.empty((batch, padded_h, padded_w, images.shape[-1]), np.float32)
    padded[...] = np.asarray(IMAGENET_MEAN_RGB, np.float32)[: images.shape[-1]]
    padded[:, :h, :w] = images
    windows = [
        (y, x)
        for y in window_starts(padded_h, ch, max(1, math.ceil(ch * (1 - overlap))))
        for x in window_starts(padded_w, cw, max(1, math.ceil(cw * (1 - overlap))))
    ]
    total = counts = None
    for i in range(0, len(windows), windows_per_batch):
        chunk = windows[i : i + windows_per_batch]
        crops = np.concatenate([padded[:, y : y + ch, x : x + cw] for y, x in chunk])
        probs = softmax(model_logits(model, crops)).reshape(len(chunk), batch, ch, cw, -1)
        if total is None:
            total = np.zeros((batch, padded_h, padded_w, probs.shape[-1]), np.float32)
            counts = np.zeros((padded_h, padded_w, 1), np.float32)
        for (y, x), p in zip(chunk, probs, strict=True):
            total[:, y : y + ch, x : x + cw] += p
            counts[y : y + ch, x : x + cw] += 1
    return (total / counts)[:, :h, :w]


def _probabilities(model, images, crop_size, overlap):
    fixed = fixed_input_size(model)
    crop = tuple(crop_size) if crop_size is not None else fixed
    h, w = images.shape[1:3]
    whole_image_fits = crop is None or crop == (h, w) or (fixed is None and h <= crop[0] and w <= crop[1])
    if whole_image_fits:
        return softmax(model_logits(model, images))
    return sliding_window_probabilities(model, images, crop, overlap)


def predict_probabilities(
    model: ModelLike,
    images: np.ndarray,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop_size: tuple[int, int] | None = None,
    overlap: float = 1 / 3,
) -> np.ndarray:
    """Averaged softmax probabilities (batch, H, W, classes) for RGB images (batch, H, W, 3) in [0, 255].

    Each scale resizes the images (bilinear), predicts (by sliding window when ``crop_size`` is given and the
    scaled image is larger, or when the model was built for one fixed size), adds the prediction of the
    horizontally flipped image flipped back when ``flip``, and resizes the probabilities back to (H, W).
    """
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be RGB with shape (batch, H, W, 3), got {images.shape}")
    check_inference_options(model, scales, crop_size)
    h, w = images.shape[1:3]
    total = None
    for scale in scales:
        scaled = resize(images, (max(1, round(h * scale)), max(1, round(w * scale))))
        probs = _probabilities(model, scaled, crop_size, overlap)
        if flip:
            probs = probs + _probabilities(model, scaled[:, :, ::-1], crop_size, overlap)[:, :, ::-1]
        probs = resize(probs, (h, w))
        total = probs if total is None else total + probs
    if not np.isfinite(total).all():
        raise ValueError(
            "the model gives NaN or infinite logits: its weights are damaged (a diverged training run?); "
            "nothing was written for these images"
        )
    return total / (len(scales) * (2 if flip else 1))
