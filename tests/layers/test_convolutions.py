"""The convolution types of the seed article, checked on its worked examples."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseg.layers import BilinearInitializer, SpatiallySeparableConv2D


def _conv(x, kernel, **kw):
    return tf.nn.conv2d(x, kernel, strides=kw.get("strides", 1), padding=kw.get("padding", "VALID"),
                        dilations=kw.get("dilations", 1)).numpy()


def test_dilated_3x3_equals_zero_spread_5x5():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 11, 11, 2)).astype("float32")
    layer = keras.layers.Conv2D(4, 3, dilation_rate=2, use_bias=False)
    y = layer(x).numpy()
    k3 = layer.kernel.numpy()
    k5 = np.zeros((5, 5, 2, 4), "float32")
    k5[::2, ::2] = k3  # the 3×3 taps spread over a 5×5 grid, zeros between them
    np.testing.assert_allclose(y, _conv(x, k5), atol=1e-5)
    assert y.shape == (1, 7, 7, 4)  # 11 − 5 + 1: the receptive field of one output is 5×5
    assert k3.shape[:2] == (3, 3) and k3[:, :, 0, 0].size == 9  # 9 weights per filter pair


def test_strided_conv_and_its_transpose_are_adjoint():
    rng = np.random.default_rng(1)
    conv = keras.layers.Conv2D(1, 3, strides=2, padding="valid", use_bias=False)
    x = rng.normal(size=(1, 5, 5, 1)).astype("float32")
    y = conv(x).numpy()
    assert y.shape == (1, 2, 2, 1)  # (5 − 3) / 2 + 1

    convt = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="valid", use_bias=False)
    v = rng.normal(size=(1, 2, 2, 1)).astype("float32")
    convt.build(v.shape)
    convt.kernel.assign(conv.kernel)  # shared weights: (3, 3, 1, 1) is its own transpose for one channel
    u = convt(v).numpy()
    assert u.shape == (1, 5, 5, 1)
    # <conv(x), v> == <x, convT(v)>
    np.testing.assert_allclose(np.sum(y * v), np.sum(x * u), rtol=1e-5)


def test_sobel_is_spatially_separable():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, size=(1, 16, 16, 1)).astype("float32")
    horizontal = np.array([1.0, 0.0, -1.0])  # differentiate along the width
    vertical = np.array([1.0, 2.0, 1.0])  # smooth along the height
    sobel = np.outer(vertical, horizontal).astype("float32")  # [[1,0,-1],[2,0,-2],[1,0,-1]]
    layer = SpatiallySeparableConv2D(1, 3, order="kx1_1xk", use_bias=False)
    layer.build(x.shape)
    layer.first.kernel.assign(vertical.reshape(3, 1, 1, 1).astype("float32"))
    layer.second.kernel.assign(horizontal.reshape(1, 3, 1, 1).astype("float32"))
    expected = _conv(x, sobel.reshape(3, 3, 1, 1), padding="SAME")
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-3)
    assert layer.count_params() == 3 + 3  # versus 3 × 3 = 9 for the full kernel


def test_depthwise_separable_parameter_counts():
    c_in, c_out, k = 16, 32, 3
    sep = keras.layers.SeparableConv2D(c_out, k, use_bias=False)
    sep.build((None, 8, 8, c_in))
    regular = keras.layers.Conv2D(c_out, k, use_bias=False)
    regular.build((None, 8, 8, c_in))
    assert sep.count_params() == 656  # 16·3·3 depthwise + 16·32 pointwise, the seed article's figure
    assert regular.count_params() == 4608  # 3·3·16·32
    m = 2
    sep2 = keras.layers.SeparableConv2D(c_out, k, depth_multiplier=m, use_bias=False)
    sep2.build((None, 8, 8, c_in))
    assert sep2.count_params() == c_in * k * k * m + (c_in * m) * c_out  # 16·9·2 + 32·32


def test_bilinear_transposed_conv_matches_bilinear_upsampling_inside():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(1, 12, 12, 2)).astype("float32")
    up = keras.layers.Conv2DTranspose(
        2, 4, strides=2, padding="same", use_bias=False, kernel_initializer=BilinearInitializer()
    )
    y = up(x).numpy()
    ref = tf.image.resize(x, (24, 24), method="bilinear").numpy()  # half-pixel centres
    assert y.shape == ref.shape
    np.testing.assert_allclose(y[:, 2:-2, 2:-2], ref[:, 2:-2, 2:-2], atol=1e-5)
    assert np.abs(y[:, :1] - ref[:, :1]).max() > 1e-3  # the border differs: zero padding pulls it down


def test_bilinear_initializer_rejects_non_square_kernels():
    with pytest.raises(ValueError, match="square"):
        BilinearInitializer()((4, 3, 2, 2))


def test_spatially_separable_layer_round_trips(tmp_path):
    inp = keras.Input((10, 10, 3))
    out = SpatiallySeparableConv2D(5, 7, order="1xk_kx1", name="gcn_branch")(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(4).normal(size=(2, 10, 10, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    assert model.count_params() == (7 * 3 * 5 + 5) + (7 * 5 * 5 + 5)
