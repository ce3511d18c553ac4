"""ONNX export through tf2onnx, checked with onnxruntime against hand-computed logits and Keras."""

from __future__ import annotations

import keras
import numpy as np
import onnx
import pytest
from export_helpers import DARK_THRESHOLD, assert_same_logits, colour_segmenter
from model_checks import structured_images

from kerasseg.export import onnx_ops, parity_report, run_onnx, to_onnx
from kerasseg.models import segmentation_input, segmentation_model


@pytest.fixture(scope="module")
def colour_onnx(tmp_path_factory):
    return to_onnx(colour_segmenter(), str(tmp_path_factory.mktemp("onnx") / "colour.onnx"))


@pytest.mark.slow
def test_onnx_gives_the_hand_computed_logits_for_a_batch(colour_onnx):
    colours = np.float32([(255, 0, 0), (0, 0, 0), (30, 60, 90)])
    images = np.broadcast_to(colours[:, None, None], (3, 64, 64, 3)).copy()
    logits = run_onnx(colour_onnx, images)  # batch 3 in one call: the batch stays dynamic
    expected = np.concatenate([colours / 127.5 - 1, np.full((3, 1), DARK_THRESHOLD / 127.5 - 1)], -1)
    np.testing.assert_allclose(logits, np.broadcast_to(expected[:, None, None], logits.shape), atol=1e-5)


@pytest.mark.slow
def test_onnx_graph_names_and_ops(colour_onnx):
    graph = onnx.load(colour_onnx).graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["logits"]
    dims = [d.dim_value or d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [64, 64, 3] and isinstance(dims[0], str)
    assert all(node.domain in ("", "ai.onnx") for node in graph.node)  # standard ops only, no TF fallbacks
    assert "Conv" in onnx_ops(colour_onnx)
    onnx.checker.check_model(onnx.load(colour_onnx))


@pytest.mark.slow
def test_onnx_parity_report(colour_onnx):
    report = parity_report(colour_segmenter(), colour_onnx, structured_images(2, (64, 64)))
    assert report["format"] == "onnx" and report["passed"]
    assert report["relative_max_abs_diff"] <= 1e-5
    assert report["gpu_delegate_unsupported"] is None


@pytest.mark.slow
def test_any_size_model_exports_at_the_given_size(tmp_path):
    inputs, x = segmentation_input((None, None, 3), 4, "any_size")
    logits = keras.layers.Conv2D(3, 3, strides=4, padding="same")(x)
    model = segmentation_model(inputs, x, logits, name="any_size")
    path = to_onnx(model, str(tmp_path / "any.onnx"), input_size=(45, 27))
    image = structured_images(2, (45, 27))
    assert_same_logits(run_onnx(path, image), model.predict(image, verbose=0))


def test_bad_arguments_are_named(colour_onnx, tmp_path):
    with pytest.raises(ValueError, match="opset"):
        to_onnx(colour_segmenter(), str(tmp_path / "m.onnx"), opset=3)
    with pytest.raises(ValueError, match=r"takes images"):
        run_onnx(colour_onnx, np.zeros((1, 32, 32, 3)))
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        run_onnx(str(tmp_path / "nothing.onnx"), np.zeros((1, 64, 64, 3)))


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, None])
def test_resize_by_a_fraction_keeps_its_exact_size(tmp_path, batch):
    """5 → 23 rows: float32(23 / 5) × 5 = 22.99999 in double, which ONNX floors to 22 and the concatenation
    with the 23-row input then fails (PSPNet's pyramid and DeepLabV3+ with Xception hit this at some sizes)."""
    from kerasseg.layers import ResizeLike

    inputs = keras.Input((23, 31, 3))
    pooled = keras.layers.Conv2D(4, 1)(keras.layers.AveragePooling2D(4)(inputs))  # 5×7
    y = keras.layers.Concatenate()([ResizeLike()([pooled, inputs]), inputs])
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(y))
    path = to_onnx(model, str(tmp_path / "fraction.onnx"), batch=batch)
    import onnx

    resizes = [node for node in onnx.load(path).graph.node if node.op_type == "Resize"]
    assert resizes and all(node.input[2] == "" and node.input[3] for node in resizes)  # sizes, not scales
    images = structured_images(2, (23, 31))
    assert_same_logits(run_onnx(path, images), model.predict(images, verbose=0))
