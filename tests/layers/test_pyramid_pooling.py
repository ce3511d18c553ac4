"""PSPNet's pyramid pooling: adaptive bins against an independent numpy implementation, any size, TFLite, ONNX."""

import keras
import numpy as np
import pytest
from model_checks import build_small, structured_images

from kerasseg.export import run_onnx, run_tflite, tflite_ops, to_onnx, to_tflite
from kerasseg.layers import AdaptiveAveragePooling, PyramidPooling, adaptive_bin_edges
from kerasseg.models import inference_model


def numpy_adaptive_average_pool(x: np.ndarray, bins: int) -> np.ndarray:
    """Adaptive average pooling as PyTorch defines it: bin i spans floor(i·n/b) .. ceil((i+1)·n/b)."""
    n, h, w, c = x.shape
    out = np.zeros((n, bins, bins, c))
    for i in range(bins):
        h0, h1 = int(np.floor(i * h / bins)), int(np.ceil((i + 1) * h / bins))
        for j in range(bins):
            w0, w1 = int(np.floor(j * w / bins)), int(np.ceil((j + 1) * w / bins))
            out[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return out


def numpy_resize_bilinear(x: np.ndarray, size) -> np.ndarray:
    """Bilinear upsampling with half-pixel centres (source coordinate (d + 0.5)·in/out − 0.5, clamped)."""

    def weights(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        m = np.zeros((n_out, n_in))
        m[np.arange(n_out), lo] += 1 - (src - lo)
        m[np.arange(n_out), hi] += src - lo
        return m

    mh, mw = weights(x.shape[1], size[0]), weights(x.shape[2], size[1])
    return np.einsum("ih,nhwc,jw->nijc", mh, x, mw)


def test_bin_edges_overlap_when_the_count_does_not_divide():
    # By hand: 8 rows in 3 bins → [0, 3), [2, 6), [5, 8); 6 rows in 3 bins → [0, 2), [2, 4), [4, 6).
    assert adaptive_bin_edges(8, 3) == [(0, 3), (2, 6), (5, 8)]
    assert adaptive_bin_edges(6, 3) == [(0, 2), (2, 4), (4, 6)]
    assert adaptive_bin_edges(7, 1) == [(0, 7)]


@pytest.mark.parametrize("size", [(7, 9), (60, 60), (8, 8), (11, 10)])
@pytest.mark.parametrize("known", ["both", "none", "width"])
def test_adaptive_pooling_matches_numpy(size, known):
    """Static sizes pool with windows, unknown ones with means (the former computation): both as numpy."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *size, 5)).astype("float32")
    shape = {"both": (*size, 5), "none": (None, None, 5), "width": (None, size[1], 5)}[known]
    inputs = keras.Input(shape)
    outputs = [AdaptiveAveragePooling(b)(inputs) for b in (1, 2, 3, 6)]
    results = keras.Model(inputs, outputs).predict(x, verbose=0)
    for b, result in zip((1, 2, 3, 6), results, strict=True):
        np.testing.assert_allclose(result, numpy_adaptive_average_pool(x, b), atol=1e-5)


@pytest.mark.parametrize("size", [(7, 9), (8, 8)])
def test_aspp_image_pooling_equals_global_average_pooling(size):
    """ASPP's image pooling was ``GlobalAveragePooling2D(keepdims=True)``; its replacement gives the same means."""
    x = np.random.default_rng(5).normal(3.0, 2.0, (2, *size, 6)).astype("float32")
    for shape in ((*size, 6), (None, None, 6)):
        inputs = keras.Input(shape)
        old = keras.layers.GlobalAveragePooling2D(keepdims=True)(inputs)
        new = AdaptiveAveragePooling(1)(inputs)
        got_old, got_new = keras.Model(inputs, [old, new]).predict(x, verbose=0)
        np.testing.assert_allclose(got_new, got_old, atol=1e-5)


def _randomise_batchnorm(layer, rng):
    for norm in layer.norms:
        c = norm.gamma.shape[0]
        norm.set_weights(
            [rng.uniform(0.5, 1.5, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2.0, c)]
        )


@pytest.mark.parametrize("dynamic", [False, True])
def test_pyramid_pooling_matches_numpy(dynamic):
    """Pool, 1×1 conv, batch norm (inference), ReLU, bilinear upsampling, concatenation, recomputed in numpy."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 9, 8)).astype("float32")
    inputs = keras.Input((None, None, 8) if dynamic else (7, 9, 8))
    layer = PyramidPooling(bins=(1, 2, 3, 6))
    model = keras.Model(inputs, layer(inputs))
    _randomise_batchnorm(layer, rng)
    got = model.predict(x, verbose=0)

    expected = [x]
    for b, conv, norm in zip((1, 2, 3, 6), layer.convs, layer.norms, strict=True):
        kernel = conv.get_weights()[0][0, 0]
        gamma, beta, mean, var = norm.get_weights()
        y = numpy_adaptive_average_pool(x, b) @ kernel
        y = np.maximum(gamma * (y - mean) / np.sqrt(var + norm.epsilon) + beta, 0)
        expected.append(numpy_resize_bilinear(y, (7, 9)))
    np.testing.assert_allclose(got, np.concatenate(expected, axis=-1), atol=1e-4)


def test_each_level_reduces_to_a_quarter_of_the_channels():
    # Paper, section 3.2: with N = 4 levels each 1×1 convolution reduces the channels to 1/N.
    inputs = keras.Input((6, 6, 64))
    layer = PyramidPooling()
    out = layer(inputs)
    assert out.shape == (None, 6, 6, 64 + 4 * 16)
    assert [conv.filters for conv in layer.convs] == [16] * 4
    # 4 × (1×1 conv 64→16 without bias + batch norm with 4 vectors of 16).
    assert layer.count_params() == 4 * (64 * 16 + 4 * 16)


def test_round_trip_with_safe_mode(tmp_path):
    rng = np.random.default_rng(2)
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, PyramidPooling(bins=(1, 2, 3, 6), filters=3, name="ppm")(inputs))
    _randomise_batchnorm(model.get_layer("ppm"), rng)
    x = rng.normal(size=(1, 10, 13, 8)).astype("float32")
    model.save(tmp_path / "ppm.keras")
    loaded = keras.saving.load_model(tmp_path / "ppm.keras", safe_mode=True)
    assert loaded.get_layer("ppm").get_config()["bins"] == [1, 2, 3, 6]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "size, expected_ops",
    [
        # 7×9 features: no bin count but 1 divides both sizes, so bins are sliced and pooled one by one.
        ((56, 72), {"AVERAGE_POOL_2D", "STRIDED_SLICE", "CONCATENATION", "RESIZE_BILINEAR"}),
        # 6×6 features: every bin count divides, one strided window each.
        ((48, 48), {"AVERAGE_POOL_2D", "CONCATENATION", "RESIZE_BILINEAR"}),
    ],
)
def test_converts_to_gpu_delegate_tflite_ops(tmp_path, size, expected_ops):
    """At a fixed size the module is pooling, 1×1 convolution, resize and concatenation: no MEAN (CPU only)."""
    inputs = keras.Input((*size, 3))
    x = keras.layers.AveragePooling2D(8)(inputs)
    x = keras.layers.Conv2D(8, 1)(x)
    model = keras.Model(inputs, PyramidPooling(name="ppm")(x))
    _randomise_batchnorm(model.get_layer("ppm"), np.random.default_rng(3))
    path = to_tflite(model, str(tmp_path / "ppm.tflite"))
    ops = tflite_ops(path)
    assert not [op for op in ops if op.startswith(("Flex", "CUSTOM"))], ops
    assert expected_ops <= set(ops) and "MEAN" not in ops, ops
    assert ("STRIDED_SLICE" in ops) == ("STRIDED_SLICE" in expected_ops), ops
    image = np.random.default_rng(4).uniform(0, 255, (1, *size, 3)).astype("float32")
    np.testing.assert_allclose(run_tflite(path, image), model.predict(image, verbose=0), atol=1e-3)


@pytest.mark.slow
def test_pspnet_exports_to_onnx_at_a_non_square_size(tmp_path):
    """56×80 gives 7×10 features; ONNX Resize from 3 or 6 bins by a float scale would give 6 and 9 rows.

    tf2onnx writes a constant resize size as float32 ``scales`` (7 / 3 = 2.3333333, which × 3 is below 7), and
    onnxruntime's shape inference then rejects the concatenation (6 rows against 7); ``to_onnx`` corrects them.
    """
    model = inference_model(build_small("pspnet", input_shape=(None, None, 3)))
    path = to_onnx(model, str(tmp_path / "pspnet.onnx"), input_size=(56, 80))
    images = structured_images(2, (56, 80))
    got, expected = run_onnx(path, images), model.predict(images, verbose=0)
    assert got.shape == expected.shape == (2, 56, 80, 3)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


@pytest.mark.parametrize("bins", [(), (0, 2), (2, 2)])
def test_bad_bins_are_rejected(bins):
    with pytest.raises(ValueError, match="bins"):
        PyramidPooling(bins=bins)
