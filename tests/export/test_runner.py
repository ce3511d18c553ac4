"""The desktop runner (python -m tflite.runner): the phone's pre/post-processing on images, GIFs and videos."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from export_helpers import COLOUR_LABELS, interior, stripes_image
from PIL import Image

from kerasseg.data import voc_palette

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tflite/ is an app folder beside the package
from tflite.runner import Segmenter, main, palette, process, resize_bilinear  # noqa: E402


def test_bilinear_resize_matches_tensorflow():
    rng = np.random.default_rng(0)
    array = rng.normal(size=(7, 11, 3)).astype("float32")
    for size in ((13, 5), (7, 11), (30, 40), (3, 4)):
        expected = tf.image.resize(array, size, method="bilinear", antialias=False).numpy()
        np.testing.assert_allclose(resize_bilinear(array, size), expected, atol=1e-5)


def test_palette_is_the_voc_colour_map():
    np.testing.assert_array_equal(palette(21), voc_palette(21))


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_still_image_gives_the_stripes_mask(colour_exports, tmp_path, mode):
    image, expected = stripes_image(90, 120)
    Image.fromarray(image).save(tmp_path / "stripes.png")
    segmenter = Segmenter(colour_exports[mode])
    assert segmenter.labels == COLOUR_LABELS and segmenter.size == (64, 64)
    summary = process(segmenter, tmp_path / "stripes.png", tmp_path / "out")
    mask = np.array(Image.open(tmp_path / "out" / "stripes_mask.png"))
    keep = interior(expected)
    np.testing.assert_array_equal(mask[keep], expected[keep])
    overlay = np.array(Image.open(tmp_path / "out" / "stripes_overlay.png"))
    assert overlay.shape == (90, 120, 3)
    assert summary["frames"] == 1 and set(summary["classes"]) == set(COLOUR_LABELS)


def test_gif_and_video_are_segmented_frame_by_frame(colour_exports, tmp_path):
    import cv2  # OpenCV comes with albumentations (opencv-python-headless)

    image, expected = stripes_image(64, 80)
    frames = [np.roll(image, 16 * i, axis=1) for i in range(4)]
    Image.fromarray(frames[0]).save(
        tmp_path / "clip.gif", save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]]
    )
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (80, 64))
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    assert main([colour_exports["float32"], str(tmp_path / "clip.gif"), str(tmp_path / "clip.mp4"),
                 "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "clip_overlay.gif") as gif:
        assert gif.n_frames == 4
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip_overlay.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (80, 64)
    capture.release()


def test_errors_are_reported(colour_exports, tmp_path, capsys):
    assert main([str(tmp_path / "none.tflite"), "x.png"]) == 2
    assert "none.tflite does not exist" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not an image")
    assert main([colour_exports["float32"], str(tmp_path / "notes.txt")]) == 2
    assert "unsupported input" in capsys.readouterr().err
