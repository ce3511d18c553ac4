"""Parity report: pass and fail cases, labels, the JSON beside the artifact, and the GPU delegate traps."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_helpers import colour_segmenter
from model_checks import structured_images

from kerasseg.export import format_report, parity_report, to_tflite, write_report
from kerasseg.export.gpu import gpu_unsupported
from kerasseg.export.parity import report_path
from kerasseg.models import segmentation_input, segmentation_model

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)]


def _uniform(colours, size=(64, 64)):
    images = np.stack([np.broadcast_to(np.float32(c), (*size, 3)) for c in colours]).copy()
    masks = np.stack([np.full(size, label) for label in range(len(colours))])
    return images, masks


def test_float_export_passes_and_scores_the_labels(colour_exports):
    images, masks = _uniform(COLOURS)
    report = parity_report(colour_segmenter(), colour_exports["float32"], images, masks, class_names=list("rgbd"))
    assert report["quantization"] == "float32" and report["format"] == "tflite"
    assert report["passed"] and report["builtin_only"]
    assert report["relative_max_abs_diff"] <= 1e-5
    assert report["argmax_agreement"] == 1.0 and report["miou_vs_keras"] == 1.0
    # Each uniform image is its own class, and the colour segmenter gets every pixel right.
    assert report["miou_vs_labels"] == {"keras": 1.0, "export": 1.0}
    assert report["input_size"] == [64, 64] and report["images"] == 4
    assert report["size_bytes"] > 0 and "CONV_2D" in report["ops"]
    assert report["gpu_delegate_unsupported"] == []


def test_int8_is_judged_by_argmax_agreement(colour_exports):
    images = structured_images(4, (64, 64))
    report = parity_report(colour_segmenter(), colour_exports["int8"], images)
    assert report["quantization"] == "int8"
    assert report["criterion"].startswith("argmax agreement")
    assert report["argmax_agreement"] >= 0.95 and report["passed"]
    assert report["float_ops"] == {} and report["ops"]["QUANTIZE"] == 1 and report["ops"]["DEQUANTIZE"] == 1
    # The classifier's 3×4 kernel in int8 and its 4 biases in int32; the file is larger by its graph and metadata.
    sizes = report["size_breakdown"]
    assert sizes["weights"] == 12 and sizes["biases"] == 16 and sizes["total"] == report["size_bytes"]
    assert "weights 12" in format_report(report)


def test_an_export_of_another_model_fails(colour_exports):
    other = colour_segmenter()
    kernel, bias = other.get_layer("classifier").get_weights()
    other.get_layer("classifier").set_weights([kernel[..., [1, 0, 2, 3]], bias])  # red and green swapped
    images, masks = _uniform(COLOURS)
    report = parity_report(other, colour_exports["float32"], images, masks)
    assert not report["passed"]
    assert report["argmax_agreement"] == 0.5  # green and blue images still agree
    assert report["miou_vs_labels"] == {"keras": 0.5, "export": 1.0}
    assert "FAIL" in format_report(report)


def test_images_of_another_size_are_resized_to_the_export(colour_exports):
    report = parity_report(colour_segmenter(), colour_exports["float32"], structured_images(2, (90, 70)))
    assert report["input_size"] == [64, 64] and report["passed"]


def test_report_is_written_beside_the_artifact(colour_exports, tmp_path):
    report = parity_report(colour_segmenter(), colour_exports["float32"], structured_images(1, (64, 64)))
    path = write_report(report, colour_exports["float32"])
    assert path == report_path(colour_exports["float32"]) and path.endswith("_float32.parity.json")
    with open(path) as f:
        assert json.load(f) == report
    text = format_report(report)
    assert "PASS" in text and f"{report['size_bytes']:,} bytes" in text


def test_bad_inputs_are_named(colour_exports, tmp_path):
    model = colour_segmenter()
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        parity_report(model, colour_exports["float32"], np.zeros((64, 64, 3)))
    with pytest.raises(ValueError, match="valid: .tflite, .onnx"):
        parity_report(model, str(tmp_path / "model.pt"), np.zeros((1, 64, 64, 3)))
    with pytest.raises(FileNotFoundError, match="gone.tflite"):
        parity_report(model, str(tmp_path / "gone.tflite"), np.zeros((1, 64, 64, 3)))


class _AlignCornersResize(keras.layers.Layer):
    """Test-only: the TF1 resize with align_corners=True that some peers' models carry."""

    def call(self, x):
        return tf.compat.v1.image.resize_bilinear(x, (32, 32), align_corners=True)


class _ArgMax(keras.layers.Layer):
    def call(self, x):
        return tf.cast(tf.math.argmax(x, axis=-1), tf.float32)[..., None]


def test_gpu_delegate_traps_are_reported(tmp_path):
    """ArgMax, nearest resizing and align_corners=True: the ops peers' users find running on the CPU."""
    inputs, x = segmentation_input((16, 16, 3), 1, "traps")
    y = keras.layers.Conv2D(3, 1)(x)
    nearest = keras.layers.Resizing(32, 32, interpolation="nearest")(y)
    corners = _AlignCornersResize()(y)
    labels = _ArgMax()(keras.layers.Add()([nearest, corners]))
    model = keras.Model(inputs, keras.layers.Concatenate()([nearest, labels]))
    path = to_tflite(model, str(tmp_path / "traps.tflite"), input_size=(16, 16), metadata=False)
    found = {entry["op"]: entry for entry in gpu_unsupported(path)}
    assert {"ARG_MAX", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"} <= set(found)
    assert "align_corners" in found["RESIZE_BILINEAR"]["reason"]
    assert "argmax in the app" in found["ARG_MAX"]["hint"]
    assert "CONV_2D" not in found and "CONCATENATION" not in found


def test_contract_resizing_is_gpu_friendly(tmp_path):
    inputs, x = segmentation_input((32, 32, 3), 4, "friendly")
    logits = keras.layers.Conv2D(3, 3, strides=4, padding="same")(x)
    model = segmentation_model(inputs, x, logits, name="friendly")
    path = to_tflite(model, str(tmp_path / "friendly.tflite"), metadata=False)
    assert gpu_unsupported(path) == []
