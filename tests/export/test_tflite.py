"""TFLite export: the four modes' contracts, input handling and errors, on models whose outputs are known."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from export_helpers import DARK_THRESHOLD, assert_same_logits, colour_segmenter
from model_checks import structured_images

from kerasseg.export import (
    QUANTIZATIONS,
    read_labels,
    run_tflite,
    tflite_input_size,
    tflite_op_list,
    tflite_ops,
    tflite_quantization,
    to_tflite,
    to_tflite_modes,
)
from kerasseg.models import segmentation_input, segmentation_model


def _uniform_images(colours, size=(64, 64)) -> np.ndarray:
    return np.stack([np.broadcast_to(np.float32(c), (*size, 3)) for c in colours]).copy()


def _colour_logits_by_hand(colour) -> np.ndarray:
    """The colour segmenter's logits on a uniform image: x / 127.5 - 1 per channel, and the dark level."""
    return np.array([*(np.float32(colour) / 127.5 - 1.0), DARK_THRESHOLD / 127.5 - 1.0], "float32")


def test_float32_export_gives_the_hand_computed_logits(colour_exports):
    colours = [(255, 0, 0), (10, 200, 30), (0, 0, 0), (90, 90, 250)]
    logits = run_tflite(colour_exports["float32"], _uniform_images(colours))
    assert logits.shape == (4, 64, 64, 4)
    for out, colour in zip(logits, colours, strict=True):
        np.testing.assert_allclose(out, np.broadcast_to(_colour_logits_by_hand(colour), out.shape), atol=1e-5)


def test_int8_takes_uint8_pixels_and_returns_float_logits(colour_exports):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=colour_exports["int8"])
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)  # raw camera pixels
    assert out["dtype"] == np.float32
    assert tuple(inp["shape"]) == (1, 64, 64, 3)
    colours = [(255, 0, 0), (0, 0, 0), (40, 30, 250)]
    logits = run_tflite(colour_exports["int8"], _uniform_images(colours))
    expected = np.stack([_colour_logits_by_hand(c) for c in colours])
    # One int8 step of a tensor spanning about [-1, 1] is 2/255; allow a few steps through pool and resize.
    np.testing.assert_allclose(logits[:, 32, 32], expected, atol=0.05)
    assert (logits.argmax(-1) == np.array([0, 3, 2])[:, None, None]).all()


@pytest.mark.slow
def test_int8_input_is_raw_pixels_even_when_calibration_images_are_dim(tmp_path):
    dim = np.clip(structured_images(3, (64, 64)) * 0.4 + 60, 0, 255)  # pixels within about [60, 162]
    path = to_tflite(colour_segmenter(), str(tmp_path / "dim.tflite"), "int8", dim, metadata=False)
    from ai_edge_litert.interpreter import Interpreter

    assert Interpreter(model_path=path).get_input_details()[0]["quantization"] == (1.0, 0)
    bright = _uniform_images([(250, 245, 20)])
    assert run_tflite(path, bright)[0, 32, 32].argmax() == 0


def _small_segmenter(size=(32, 32)) -> keras.Model:
    inputs, x = segmentation_input((*size, 3), 2, "small")
    y = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(y)  # 9216 weights: dynamic mode quantizes it
    logits = keras.layers.Conv2D(3, 1)(y)
    return segmentation_model(inputs, x, logits, name="small")


@pytest.mark.slow
def test_each_mode_is_recognised_from_the_file(tmp_path):
    images = structured_images(2, (32, 32))
    paths = to_tflite_modes(_small_segmenter(), str(tmp_path), QUANTIZATIONS, images, metadata=False)
    assert sorted(os.listdir(tmp_path)) == sorted(f"small_{mode}.tflite" for mode in QUANTIZATIONS)
    assert {mode: tflite_quantization(path) for mode, path in paths.items()} == {m: m for m in QUANTIZATIONS}
    sizes = {mode: os.path.getsize(path) for mode, path in paths.items()}
    assert sizes["float32"] > sizes["float16"] > sizes["dynamic"]


def test_builtin_ops_frozen_weights_and_batch_one(colour_exports):
    for path in colour_exports.values():
        ops = tflite_ops(path)
        assert not [op for op in ops if op.startswith(("Flex", "CUSTOM"))], ops
        assert not {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} & set(ops), ops
        assert tflite_input_size(path) == (64, 64)


def _bn_dilated_model() -> keras.Model:
    inputs, x = segmentation_input((32, 32, 3), 1, "bn_dilated")
    y = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2, name="atrous")(x)
    bn = keras.layers.BatchNormalization(name="bn")
    y = bn(y)
    logits = keras.layers.Conv2D(3, 1, name="classifier")(y)
    model = segmentation_model(inputs, x, logits, name="bn_dilated")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(0, 1, 8), rng.normal(5, 20, 8), rng.uniform(50, 400, 8)])
    return model


def test_batchnorm_runs_in_inference_mode_and_dilation_stays_a_conv(tmp_path):
    model = _bn_dilated_model()
    x = structured_images(2, (32, 32))
    path = to_tflite(model, str(tmp_path / "bn.tflite"), metadata=False)
    lite = run_tflite(path, x)
    inference = model(x, training=False).numpy()
    training = model(x, training=True).numpy()
    assert np.abs(inference - training).max() > 1e-2  # the two modes differ on this model
    np.testing.assert_allclose(lite, inference, rtol=1e-4, atol=1e-4 * np.ptp(inference))
    ops = tflite_ops(path)
    assert "SPACE_TO_BATCH_ND" not in ops and "BATCH_TO_SPACE_ND" not in ops
    dilations = [op["options"].get("dilationHFactor") for op in tflite_op_list(path) if op["op"] == "CONV_2D"]
    assert 2 in dilations


def test_auxiliary_head_is_dropped(tmp_path):
    inputs, x = segmentation_input((32, 32, 3), 4, "with_aux")
    features = keras.layers.Conv2D(4, 3, strides=4, padding="same")(x)
    logits = keras.layers.Conv2D(3, 1)(features)
    aux = keras.layers.Conv2D(5, 1)(features)
    model = segmentation_model(inputs, x, logits, name="with_aux", aux=aux)
    path = to_tflite(model, str(tmp_path / "aux.tflite"), metadata=False)
    x = structured_images(1, (32, 32))
    lite = run_tflite(path, x)
    assert lite.shape == (1, 32, 32, 3)
    assert_same_logits(lite, model.predict(x, verbose=0))


def test_representative_images_of_another_size_are_resized(tmp_path):
    path = to_tflite(colour_segmenter(), str(tmp_path / "m.tflite"), "int8", structured_images(2, (80, 50)),
                     metadata=False)
    assert tflite_input_size(path) == (64, 64)


def test_any_size_model_needs_an_input_size(tmp_path):
    inputs, x = segmentation_input((None, None, 3), 4, "any_size")
    logits = keras.layers.Conv2D(3, 3, strides=4, padding="same")(x)
    model = segmentation_model(inputs, x, logits, name="any_size")
    with pytest.raises(ValueError, match="input_size"):
        to_tflite(model, str(tmp_path / "m.tflite"), metadata=False)
    path = to_tflite(model, str(tmp_path / "m.tflite"), input_size=(40, 24), metadata=False)
    assert tflite_input_size(path) == (40, 24)
    image = structured_images(1, (40, 24))
    assert_same_logits(run_tflite(path, image), model.predict(image, verbose=0))


@pytest.mark.slow
def test_bad_arguments_are_named(tmp_path):
    model = colour_segmenter()
    with pytest.raises(ValueError, match="float32, float16, dynamic, int8"):
        to_tflite(model, str(tmp_path / "m.tflite"), "int4")
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(model, str(tmp_path / "m.tflite"), "int8")
    with pytest.raises(ValueError, match=r"does not match the model's fixed input \(64, 64\)"):
        to_tflite(model, str(tmp_path / "m.tflite"), input_size=(32, 32))
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        run_tflite(str(tmp_path / "missing.tflite"), np.zeros((1, 64, 64, 3)))


def test_wrong_image_shape_for_the_interpreter_is_named(colour_exports):
    with pytest.raises(ValueError, match=r"takes images \(N, 64, 64, 3\), got \(1, 32, 32, 3\)"):
        run_tflite(colour_exports["float32"], np.zeros((1, 32, 32, 3)))


@pytest.mark.slow
def test_a_failed_export_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"previous")
    grey = np.zeros((2, 64, 64), "float32")  # not RGB: calibration fails inside the converter
    with pytest.raises(ValueError):
        to_tflite(colour_segmenter(), str(path), "int8", grey, metadata=False)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_exports_get_the_usual_file_permissions(colour_exports):
    mode = os.stat(colour_exports["float32"]).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_native_resolution_export_leaves_the_upsampling_to_the_app(tmp_path):
    from kerasseg.export import parity_report

    model = colour_segmenter()
    images = structured_images(3, (64, 64))
    path = to_tflite(model, str(tmp_path / "native.tflite"), "int8", images, full_resolution=False, metadata=False)
    logits = run_tflite(path, _uniform_images([(0, 0, 255)]))
    assert logits.shape == (1, 32, 32, 4)  # the colour segmenter classifies at stride 2
    assert "RESIZE_BILINEAR" not in tflite_ops(path)
    report = parity_report(model, path, images)
    assert report["output_size"] == [32, 32] and report["input_size"] == [64, 64]
    assert report["argmax_agreement"] >= 0.95


@pytest.mark.slow
def test_native_resolution_needs_a_fixed_size_contract_model(tmp_path):
    inputs, x = segmentation_input((None, None, 3), 4, "any_size")
    model = segmentation_model(inputs, x, keras.layers.Conv2D(3, 3, strides=4, padding="same")(x), name="any")
    with pytest.raises(ValueError, match="fixed input_shape"):
        to_tflite(model, str(tmp_path / "m.tflite"), input_size=(32, 32), full_resolution=False, metadata=False)


def test_shared_vectors_shrink_int8_files_without_changing_them(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from kerasseg.export.flatbuffer import share_vectors
    from kerasseg.export.tflite import frozen_function, representative_dataset

    images = structured_images(2, (32, 32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_function(_small_segmenter(), (32, 32))])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.representative_dataset = representative_dataset(images)
    raw = converter.convert()
    shared = share_vectors(raw)
    assert len(shared) < len(raw)
    outputs = []
    for flatbuffer in (raw, shared):
        interpreter = Interpreter(model_content=flatbuffer)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images[:1].astype(np.uint8))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_metadata_keeps_the_shared_vectors_and_the_labels(tmp_path):
    """The metadata writer re-serializes the model; the file must stay as compact as without metadata."""
    from kerasseg.export.metadata import read_labels

    images = structured_images(2, (32, 32))
    labels = ["sky", "road", "car"]
    model = _small_segmenter()
    with_metadata = to_tflite(model, str(tmp_path / "m.tflite"), "int8", images, labels=labels)
    without = to_tflite(model, str(tmp_path / "bare.tflite"), "int8", images, metadata=False)
    data = open(with_metadata, "rb").read()
    # Metadata (descriptions, normalization, label map) costs about 1 KB here; re-expanded vectors 1 KB more.
    assert len(data) - os.path.getsize(without) < 1536
    assert read_labels(with_metadata) == labels
    np.testing.assert_array_equal(run_tflite(with_metadata, images), run_tflite(without, images))


def test_label_count_must_match_the_classes(tmp_path):
    with pytest.raises(ValueError, match="2 labels for a model with 4 classes"):
        to_tflite(colour_segmenter(), str(tmp_path / "m.tflite"), labels=["a", "b"])


@pytest.mark.parametrize("metadata", [True, False], ids=["metadata", "plain"])
def test_the_tensors_are_named_image_and_logits(tmp_path, metadata):
    from ai_edge_litert.interpreter import Interpreter

    path = to_tflite(_small_segmenter(), str(tmp_path / "m.tflite"), "int8", structured_images(4, (32, 32)),
                     metadata=metadata)
    interpreter = Interpreter(model_path=path)
    assert [d["name"] for d in interpreter.get_input_details()] == ["image"]
    assert [d["name"] for d in interpreter.get_output_details()] == ["logits"]
    assert (read_labels(path) is not None) is metadata


def test_the_python_export_prints_nothing_unless_asked(tmp_path, capfd):
    """The converter's absl warnings and its native lines ("fully_quantize: ...") go to the process's stderr."""
    model, images = _small_segmenter(), structured_images(4, (32, 32))
    capfd.readouterr()
    to_tflite(model, str(tmp_path / "quiet.tflite"), "int8", images)
    assert capfd.readouterr() == ("", "")
    to_tflite(model, str(tmp_path / "loud.tflite"), "int8", images, verbose=True)
    assert "fully_quantize" in capfd.readouterr().err
