"""`kerasseg demo`, the main job: it must learn, export int8 and write its picture, reproducibly."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from kerasseg.data.synthetic import CLASS_NAMES, IGNORE_LABEL, make_shapes
from kerasseg.export import read_labels
from kerasseg_cli import main


def test_synthetic_set_has_four_classes_and_an_ignore_border():
    images, masks = make_shapes(8, 64, seed=3)
    assert images.shape == (8, 64, 64, 3) and images.min() >= 0 and images.max() <= 255
    assert set(np.unique(masks)) <= {*range(len(CLASS_NAMES)), IGNORE_LABEL}
    assert IGNORE_LABEL in masks and len(CLASS_NAMES) >= 4
    # Ignore pixels lie on shape boundaries: none touches the image border unless a shape does.
    assert (masks[:, 0, :] != IGNORE_LABEL).mean() > 0.9
    again, again_masks = make_shapes(8, 64, seed=3)  # seeded: the same set again
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(masks, again_masks)


def check_demo_files(out, printed: str) -> dict:
    """What `kerasseg demo` writes and prints, however long it trained; returns results.json."""
    results = json.loads((out / "results.json").read_text())
    for name in CLASS_NAMES:
        assert name in printed
    assert "mean IoU" in printed and str(out) in printed

    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 64, 64, len(CLASS_NAMES))
    tflite = out / "model_int8.tflite"
    assert tflite.stat().st_size == results["int8_bytes"] < 1_000_000
    assert read_labels(str(tflite)) == list(CLASS_NAMES)  # MediaPipe metadata with the class names
    picture = Image.open(out / "predictions.png")
    assert picture.width > 300 and picture.height > 300
    assert not list(out.glob(".*"))  # no temporary files left behind
    return results


@pytest.mark.slow
def test_demo_writes_its_files(tmp_path, capsys):
    """One epoch: every file and line (whether it learns: the full demo test)."""
    assert main(["demo", "--out", str(tmp_path), "--seed", "0", "--epochs", "1"]) == 0
    assert check_demo_files(tmp_path, capsys.readouterr().out)["epochs"] == 1


@pytest.mark.slow
def test_demo_learns_and_exports(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--seed", "0"]) == 0
    results = check_demo_files(tmp_path, capsys.readouterr().out)
    assert results["val_miou"] >= 0.7, results
    assert results["int8_pixel_agreement"] >= 0.95, results
