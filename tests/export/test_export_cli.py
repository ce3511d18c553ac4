"""``kerasseg export`` and ``kerasseg benchmark``: argument handling, reports, real data from ../shared."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_helpers import COLOUR_LABELS, colour_segmenter, stripes_image
from model_checks import build_small
from PIL import Image

from kerasseg.export import read_labels
from kerasseg_cli import main


@pytest.fixture(scope="module")
def saved_colour(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    colour_segmenter().save(folder / "colour.keras")
    images = folder / "images"
    images.mkdir()
    image, _ = stripes_image(60, 80)
    for i in range(6):  # six different frames: three to check, three to calibrate on
        Image.fromarray(np.roll(image, 13 * i, axis=1)).save(images / f"frame{i}.png")
    (folder / "labels.txt").write_text("\n".join(COLOUR_LABELS) + "\n")
    return folder


def test_int8_export_checked_on_a_folder(saved_colour, capsys):
    out = saved_colour / "colour_int8.tflite"
    code = main(["export", str(saved_colour / "colour.keras"), "--quantization", "int8", "--out", str(out),
                 "--check", str(saved_colour / "images"), "--labels", str(saved_colour / "labels.txt"),
                 "--max-images", "3"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "argmax agreement ≥ 95%: PASS" in printed and "3 images" in printed
    with open(saved_colour / "colour_int8.parity.json") as f:
        report = json.load(f)
    assert report["quantization"] == "int8" and report["passed"] and report["images"] == 3
    assert report["calibration"] == f"{saved_colour / 'images'} (3 images after the first 3)"
    assert f"calibrated on {saved_colour / 'images'} (3 images after the first 3)" in printed
    assert read_labels(str(out)) == COLOUR_LABELS


def test_int8_default_calibration_never_uses_the_checked_images(saved_colour, tmp_path, monkeypatch, capsys):
    """Issue #18: ``--check`` alone calibrates on other images of the same folder than those it checks."""
    from kerasseg.export import workflow

    seen = {}
    write_tflite = workflow.write_tflite

    def spy(prepared, paths, metadata=True):
        seen["calibration"] = prepared.calibration
        return write_tflite(prepared, paths, metadata)

    def parity_spy(prepared, path, images, *args, **kwargs):
        seen["checked"] = images
        return parity_report(prepared, path, images, *args, **kwargs)

    parity_report = workflow.parity_report
    monkeypatch.setattr(workflow, "write_tflite", spy)
    monkeypatch.setattr(workflow, "parity_report", parity_spy)
    code = main(["export", str(saved_colour / "colour.keras"), "--quantization", "int8", "--max-images", "3",
                 "--out", str(tmp_path / "m.tflite"), "--check", str(saved_colour / "images")])
    assert code == 0, capsys.readouterr()
    calibration, checked = seen["calibration"], seen["checked"]
    assert len(calibration) == 3 and len(checked) == 3
    assert not any(np.array_equal(a, b) for a in calibration for b in checked)


def test_int8_check_folder_without_images_left_to_calibrate_says_what_to_do(saved_colour, tmp_path, capsys):
    code = main(["export", str(saved_colour / "colour.keras"), "--quantization", "int8", "--max-images", "6",
                 "--out", str(tmp_path / "m.tflite"), "--check", str(saved_colour / "images")])
    err = capsys.readouterr().err
    assert code == 2 and "no images after the first 6" in err and "--calibration" in err
    assert not (tmp_path / "m.tflite").exists()


def test_onnx_export_with_a_synthetic_check(saved_colour, capsys):
    out = saved_colour / "colour.onnx"
    assert main(["export", str(saved_colour / "colour.keras"), "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "synthetic shapes" in printed and "PASS" in printed
    assert (saved_colour / "colour.parity.json").is_file()


@pytest.mark.slow
def test_camvid_check_scores_labels_and_names_the_classes(shared_dir, tmp_path, capsys):
    model = build_small("unet", classes=11, input_shape=(64, 64, 3))
    model.save(tmp_path / "unet.keras")
    out = tmp_path / "unet.tflite"
    code = main(["export", str(tmp_path / "unet.keras"), "--out", str(out), "--check", "camvid",
                 "--max-images", "3", "--data-dir", str(shared_dir / "data" / "camvid")])
    assert code == 0, capsys.readouterr()
    with open(tmp_path / "unet.parity.json") as f:
        report = json.load(f)
    assert report["data"] == "camvid (val, 3)"
    labels = report["miou_vs_labels"]
    assert labels["keras"] == pytest.approx(labels["export"], abs=1e-3)  # a float32 export predicts the same
    assert read_labels(str(out))[:3] == ["Sky", "Building", "Pole"]


def test_errors_exit_2_with_the_reason(saved_colour, tmp_path, capsys):
    model = str(saved_colour / "colour.keras")
    assert main(["export", model, "--quantization", "int8", "--out", str(tmp_path / "m.tflite")]) == 2
    assert "needs real images to calibrate" in capsys.readouterr().err
    assert main(["export", model, "--quantization", "int3", "--out", str(tmp_path / "m.tflite")]) == 2
    assert "valid modes: float32, float16, dynamic, int8" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.keras"), "--out", str(tmp_path / "m.tflite")]) == 2
    assert "none.keras does not exist" in capsys.readouterr().err
    (tmp_path / "two.txt").write_text("a\nb\n")
    assert main(["export", model, "--out", str(tmp_path / "m.tflite"), "--labels", str(tmp_path / "two.txt")]) == 2
    assert "has 2 labels, the model 4 classes" in capsys.readouterr().err


def test_benchmark_times_keras_and_each_mode(saved_colour, capsys):
    assert main(["benchmark", str(saved_colour / "colour.keras"), "--modes", "float32", "int8", "--runs", "3",
                 "--calibration", str(saved_colour / "images")]) == 0
    printed = capsys.readouterr().out
    assert "Keras (TF)" in printed and "LiteRT float32" in printed and "LiteRT int8" in printed
