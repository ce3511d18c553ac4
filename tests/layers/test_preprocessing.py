"""BackbonePreprocessing against keras.applications' preprocess_input, and what its caffe mode exports to."""

import keras
import numpy as np
import pytest
from model_checks import structured_images

from kerasseg.export import run_tflite, tflite_ops, to_tflite
from kerasseg.export.gpu import gpu_unsupported
from kerasseg.layers import BackbonePreprocessing

REFERENCES = {
    "caffe": keras.applications.vgg16.preprocess_input,
    "tf": keras.applications.mobilenet_v2.preprocess_input,
    "torch": lambda x: keras.applications.imagenet_utils.preprocess_input(x, mode="torch"),
}


def _pixels(seed=0, size=(2, 7, 9)):
    # Every integer pixel value and fractional ones: the layer takes any float in [0, 255].
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (*size, 3)).astype("float32")
    x.reshape(-1)[:256] = np.arange(256)
    return x


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_matches_keras_applications(mode, dynamic):
    x = _pixels()
    inputs = keras.Input((None, None, 3) if dynamic else x.shape[1:])
    model = keras.Model(inputs, BackbonePreprocessing(mode)(inputs))
    np.testing.assert_allclose(model.predict(x, verbose=0), REFERENCES[mode](x.copy()), atol=1e-5)


@pytest.mark.slow
def test_caffe_is_exact_in_float32():
    # The permutation convolution multiplies by 1 and 0 only: the same floats as flip-then-subtract.
    x = _pixels(1)
    expected = x[..., ::-1] - np.float32([103.939, 116.779, 123.68])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(BackbonePreprocessing("caffe")(x)), expected)


def test_caffe_in_mixed_precision_rounds_as_float16():
    x = _pixels(2)
    layer = BackbonePreprocessing("caffe", dtype="mixed_float16")
    got = keras.ops.convert_to_numpy(layer(x))
    assert got.dtype == np.float16
    expected = x[..., ::-1].astype("float16") - np.float16([103.939, 116.779, 123.68])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_no_weights_and_the_config_of_before(tmp_path):
    layer = BackbonePreprocessing("caffe", name="preprocessing")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, layer(inputs))
    assert layer.weights == []
    # Only "mode" beyond the base layer's keys, so .keras files saved before the change load unchanged.
    assert set(layer.get_config()) - set(keras.layers.Layer(name="x").get_config()) == {"mode"}
    model.save(tmp_path / "pre.keras")
    loaded = keras.saving.load_model(tmp_path / "pre.keras", safe_mode=True)
    x = _pixels(3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bad_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="caffe.*tf.*torch"):
        BackbonePreprocessing("bgr")


def _caffe_model(size=(32, 32)):
    inputs = keras.Input((*size, 3))
    x = BackbonePreprocessing("caffe", name="preprocessing")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=keras.initializers.RandomNormal(0, 0.01, 0))(x)
    return keras.Model(inputs, x, name="caffe_model")


@pytest.mark.slow
def test_caffe_exports_to_one_convolution_not_reverse(tmp_path):
    """The channel flip is not REVERSE_V2 (which the LiteRT GPU delegate does not run) but a CONV_2D."""
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, BackbonePreprocessing("caffe")(inputs))
    path = to_tflite(model, str(tmp_path / "caffe.tflite"), metadata=False)
    assert tflite_ops(path) == ["CONV_2D"]
    assert gpu_unsupported(path) == []
    x = _pixels(4, (1, 16, 16))
    np.testing.assert_allclose(run_tflite(path, x), keras.applications.vgg16.preprocess_input(x.copy()), atol=1e-5)


@pytest.mark.slow
def test_caffe_model_exports_int8_with_pixel_input(tmp_path):
    # to_tflite checks itself that the int8 input is uint8 pixels with scale 1 and zero point 0.
    model = _caffe_model()
    images = structured_images(4, (32, 32))
    path = to_tflite(model, str(tmp_path / "caffe_int8.tflite"), "int8", images, metadata=False)
    assert "REVERSE_V2" not in tflite_ops(path)
    assert gpu_unsupported(path) == []
    got, expected = run_tflite(path, images[:2]), model.predict(images[:2], verbose=0)
    # A few quantization steps of the output range.
    assert np.abs(got - expected).max() <= 0.05 * np.abs(expected).max()
