"""kerasseg's own convolution layers: the spatially separable pair and the bilinear initialiser.

Dilated, transposed and depthwise separable convolutions are Keras' own layers (their tests are Keras').
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseg.layers import BilinearInitializer, SpatiallySeparableConv2D


def _conv(x, kernel, **kw):
    return tf.nn.conv2d(x, kernel, strides=kw.get("strides", 1), padding=kw.get("padding", "VALID"),
                        dilations=kw.get("dilations", 1)).numpy()


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


def test_the_order_names_which_kernel_runs_first():
    # "1xk_kx1" (GCN's right branch): a 1×k kernel into the intermediate channels, then k×1; "kx1_1xk" the reverse.
    for order, first, second in (("kx1_1xk", (7, 1), (1, 7)), ("1xk_kx1", (1, 7), (7, 1))):
        layer = SpatiallySeparableConv2D(5, 7, order=order, intermediate_filters=2)
        layer.build((None, 10, 10, 3))
        assert layer.first.kernel.shape == (*first, 3, 2) and layer.second.kernel.shape == (*second, 2, 5)
    with pytest.raises(ValueError, match="kx1_1xk"):
        SpatiallySeparableConv2D(5, 7, order="kxk")


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
