"""GCN, "Large Kernel Matters" (Peng et al., CVPR 2017): the GCN module against a dense k×k convolution,
boundary refinement against numpy, the decoder's structure and its parameter count by hand."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.models.gcn import boundary_refinement, global_convolution

# keras.applications ResNet50 without top (published.md).
RESNET50_NO_TOP = 23_587_712


def conv_same(x: np.ndarray, kernel: np.ndarray, bias=None) -> np.ndarray:
    """'same' convolution (odd kernel, zero padding), NHWC, written out over the kernel offsets."""
    kh, kw = kernel.shape[:2]
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = sum(padded[:, a : a + h, b : b + w] @ kernel[a, b] for a in range(kh) for b in range(kw))
    return out if bias is None else out + bias


def _gcn_model(channels, filters, k, use_bias=True):
    inputs = keras.Input((None, None, channels))
    return keras.Model(inputs, global_convolution(inputs, filters, k, use_bias=use_bias, name="gcn"))


@pytest.mark.parametrize("channels, filters, k", [(64, 21, 15), (2048, 21, 15), (256, 21, 7)])
def test_gcn_module_weights_against_a_dense_kxk_convolution(channels, filters, k):
    # Two branches, each a k×1 and a 1×k convolution: 2·k·(C·C' + C'·C') weights, plus 4·C' biases.
    model = _gcn_model(channels, filters, k, use_bias=False)
    weights = 2 * k * (channels * filters + filters * filters)
    assert model.count_params() == weights
    assert _gcn_model(channels, filters, k).count_params() == weights + 4 * filters
    assert weights < k * k * channels * filters  # the single k×k convolution it replaces


@pytest.mark.parametrize("k", [7, 15])
def test_gcn_module_equals_the_dense_kxk_convolution_of_its_branches(k):
    """Without biases the module is one k×k convolution whose kernel is the sum, over both branches, of the
    outer products of their 1-D kernels (zero padding included, since each branch pads along one axis)."""
    rng = np.random.default_rng(0)
    model = _gcn_model(4, 3, k, use_bias=False)
    left_kx1, left_1xk = model.get_layer("gcn_left").get_weights()
    right_1xk, right_kx1 = model.get_layer("gcn_right").get_weights()
    assert left_kx1.shape == (k, 1, 4, 3) and left_1xk.shape == (1, k, 3, 3)
    # dense[i, j, c, d] = Σ_m left_kx1[i, c, m] left_1xk[j, m, d] + right_1xk[j, c, m] right_kx1[i, m, d]
    dense = np.einsum("icm,jmd->ijcd", left_kx1[:, 0], left_1xk[0]) + np.einsum(
        "jcm,imd->ijcd", right_1xk[0], right_kx1[:, 0]
    )
    x = rng.normal(size=(2, 20, 17, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), conv_same(x, dense), atol=1e-4)


def test_boundary_refinement_matches_numpy():
    rng = np.random.default_rng(1)
    inputs = keras.Input((9, 10, 5))
    model = keras.Model(inputs, boundary_refinement(inputs, name="br"))
    (k1, b1), (k2, b2) = model.get_layer("br_conv1").get_weights(), model.get_layer("br_conv2").get_weights()
    b1, b2 = rng.normal(size=b1.shape), rng.normal(size=b2.shape)
    model.get_layer("br_conv1").set_weights([k1, b1])
    model.get_layer("br_conv2").set_weights([k2, b2])
    x = rng.normal(size=(1, 9, 10, 5)).astype("float32")
    expected = x + conv_same(np.maximum(conv_same(x, k1, b1), 0), k2, b2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)


@pytest.mark.slow
def test_resnet50_gcn_structure_and_parameter_count():
    model = kerasseg.GCN(classes=21, input_shape=(64, 64, 3), backbone="resnet50", weights=None)
    layers = model.layers
    names = [layer.name for layer in layers]

    # Fig. 2: one GCN (k = 15) + BR per stage res-2 … res-5, BR after each fusion, and 2 final deconv + BR.
    gcns = [n for n in names if n.startswith("gcn_") and n.endswith("_left")]
    assert len(gcns) == 4
    assert all(model.get_layer(n).kernel_size == 15 for n in gcns)
    assert len([n for n in names if n.startswith("br_") and n.endswith("_add")]) == 9
    deconvs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(deconvs) == 5
    # Bilinear initialisation, by hand: the 4-tap triangle (1/4, 3/4, 3/4, 1/4), class by class.
    tri = np.array([0.25, 0.75, 0.75, 0.25])
    kernel = deconvs[0].kernel.numpy()
    np.testing.assert_allclose(kernel[:, :, 3, 3], np.outer(tri, tri))
    assert kernel[:, :, 3, 4].max() == 0

    # No dilation (output stride 32): the stride-32 score map is 2×2, the last BR at the input's 64×64.
    assert model.get_layer("conv5_block3_2_conv").dilation_rate == (1, 1)
    assert model.get_layer("br_stride32_add").output.shape[1:] == (2, 2, 21)
    assert model.get_layer("br_stride1_add").output.shape[1:] == (64, 64, 21)

    c, k = 21, 15
    gcn = sum(2 * k * (ch * c + c * c) + 4 * c for ch in (256, 512, 1024, 2048))
    br = 9 * 2 * (9 * c * c + c)
    deconv = 5 * 4 * 4 * c * c
    assert model.count_params() == RESNET50_NO_TOP + gcn + br + deconv


def test_size_that_is_not_a_multiple_of_32_is_rejected():
    with pytest.raises(ValueError, match="width 48 is not a multiple of 32; pad or resize it to 64"):
        kerasseg.GCN(classes=3, input_shape=(64, 48, 3), weights=None)
