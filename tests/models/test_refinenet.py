"""RefineNet (Lin et al., CVPR 2017): blocks against numpy, cascade structure, the released model's size."""

import keras
import numpy as np
import pytest
from model_checks import build_small

import kerasseg
from kerasseg.models.refinenet import chained_residual_pooling, multi_resolution_fusion, residual_conv_unit

# keras.applications ResNet101 without top (published.md); it counts conv biases and batch-norm statistics.
RESNET101_NO_TOP = 42_658_176


def conv3x3(x: np.ndarray, kernel: np.ndarray, bias=None) -> np.ndarray:
    """'same' 3×3 convolution with zero padding, NHWC, written out over the kernel offsets."""
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = sum(padded[:, a : a + h, b : b + w] @ kernel[a, b] for a in range(3) for b in range(3))
    return out if bias is None else out + bias


def max_pool5(x: np.ndarray) -> np.ndarray:
    """5×5 max pooling at stride 1, padded so the size stays (padding never wins)."""
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-np.inf)
    return np.max([padded[:, a : a + h, b : b + w] for a in range(5) for b in range(5)], axis=0)


def _model(block, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, block(inputs))


@pytest.mark.slow
def test_residual_conv_unit_matches_numpy():
    rng = np.random.default_rng(0)
    model = _model(lambda t: residual_conv_unit(t, name="rcu"), (6, 7, 4))
    x = rng.normal(size=(2, 6, 7, 4)).astype("float32")
    (k1, b1), (k2,) = model.get_layer("rcu_conv1").get_weights(), model.get_layer("rcu_conv2").get_weights()
    expected = x + conv3x3(np.maximum(conv3x3(np.maximum(x, 0), k1, b1), 0), k2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [2, 4])
def test_chained_residual_pooling_matches_numpy(blocks):
    rng = np.random.default_rng(1)
    model = _model(lambda t: chained_residual_pooling(t, blocks, name="crp"), (9, 8, 3))
    x = rng.normal(size=(1, 9, 8, 3)).astype("float32")
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == blocks and all(p.pool_size == (5, 5) and p.strides == (1, 1) for p in pools)
    total = chain = np.maximum(x, 0)
    for i in range(1, blocks + 1):
        chain = conv3x3(max_pool5(chain), model.get_layer(f"crp_conv{i}").get_weights()[0])
        total = total + chain
    np.testing.assert_allclose(model.predict(x, verbose=0), total, atol=1e-4)


def test_multi_resolution_fusion_upsamples_to_the_finest_path_at_the_smallest_width():
    coarse, fine = keras.Input((4, 4, 32)), keras.Input((8, 8, 16))
    fused = multi_resolution_fusion([coarse, fine], name="mrf")
    assert tuple(fused.shape) == (None, 8, 8, 16)
    model = keras.Model([coarse, fine], fused)
    assert model.get_layer("mrf_path1_conv").kernel.shape == (3, 3, 32, 16)
    assert model.get_layer("mrf_path2_conv").kernel.shape == (3, 3, 16, 16)
    # A single path goes through unchanged (paper section 3.2).
    assert multi_resolution_fusion([fine], name="single") is fine


def refinenet_head_parameters(stage_channels, classes: int, crp_blocks: int, widths=(512, 256)) -> int:
    """RefineNet-101 by hand from the paper's spec, layer by layer (conv weights; RCUs' first conv has a bias)."""

    def conv(cin, cout, bias=False):
        return 9 * cin * cout + (cout if bias else 0)

    def rcu(c):
        return conv(c, c, bias=True) + conv(c, c)

    total, previous = 0, None
    for level, channels in enumerate(stage_channels):  # stride 32 first
        width = widths[0] if level == 0 else widths[1]
        total += conv(channels, width) + 2 * rcu(width)  # adaptation conv, 2 RCUs on the backbone path
        if previous is not None:
            total += 2 * rcu(previous)  # 2 RCUs on the previous block's path
            total += conv(previous, width) + conv(width, width)  # fusion convs to the smaller width
        total += crp_blocks * conv(width, width) + rcu(width)  # chained pooling, output RCU
        previous = width
    return total + 2 * rcu(256) + conv(256, classes, bias=True)  # 2 final RCUs, 3×3 classifier


@pytest.mark.slow
def test_released_refinenet101_has_118m_parameters_and_263_gflops():
    """Light-Weight RefineNet (Nekrasov, Shen, Reid, BMVC 2018), Table 1: RefineNet-101 118M parameters and
    263 GFLOPs (multiply-adds) at 512×512; the released model chains 4 pooling blocks and ends in a 3×3 conv."""
    model = kerasseg.RefineNet(
        classes=21, input_shape=(512, 512, 3), backbone="resnet101", weights=None, crp_blocks=4
    )
    head = refinenet_head_parameters((2048, 1024, 512, 256), 21, crp_blocks=4)
    assert model.count_params() == RESNET101_NO_TOP + head
    assert abs(model.count_params() - 118e6) / 118e6 < 0.01

    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            macs += h * w * int(np.prod(layer.kernel.shape))
    assert abs(macs - 263e9) / 263e9 < 0.02, macs

    # Refinement widths: 512 in RefineNet-4, 256 after; RefineNet-1 runs at stride 4 (128 for 512).
    assert model.get_layer("refinenet4_output_rcu_add").output.shape[1:] == (16, 16, 512)
    assert model.get_layer("refinenet3_output_rcu_add").output.shape[1:] == (32, 32, 256)
    assert model.get_layer("classifier").output.shape[1:] == (128, 128, 21)


@pytest.mark.slow
def test_cascade_structure_with_the_papers_chain_length():
    model = build_small("refinenet", classes=3)
    names = [layer.name for layer in model.layers]
    for level in (4, 3, 2, 1):
        pools = [n for n in names if n.startswith(f"refinenet{level}_crp_pool")]
        assert len(pools) == 2, pools  # paper section 3.2: 2 pooling blocks
        rcus = [n for n in names if n.startswith(f"refinenet{level}_") and n.endswith("_add") and "rcu" in n]
        # 2 RCUs per input path (RefineNet-4 has one path, the others two) and one output RCU.
        assert len(rcus) == (3 if level == 4 else 5), rcus
    assert len([n for n in names if n.startswith("final_rcu") and n.endswith("_add")]) == 2
    # Backbone paths at strides 32, 16, 8, 4 for a 64×64 input.
    sizes = [model.get_layer(f"refinenet{level}_adapt_conv").output.shape[1] for level in (4, 3, 2, 1)]
    assert sizes == [2, 4, 8, 16]


@pytest.mark.slow
def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="crp_blocks"):
        kerasseg.RefineNet(classes=3, input_shape=(64, 64, 3), weights=None, crp_blocks=0)
    with pytest.raises(ValueError, match="multiple of 32"):
        kerasseg.RefineNet(classes=3, input_shape=(64, 72, 3), weights=None)
