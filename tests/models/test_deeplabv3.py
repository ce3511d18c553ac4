"""DeepLabv3 and DeepLabv3+ (Chen et al. 2017, 2018): parameter counts, ASPP structure, output strides."""

import keras
import numpy as np
import pytest
from model_checks import centre_tap_weights, impulse_positions

from kerasseg.layers import AdaptiveAveragePooling
from kerasseg.models import DeepLabV3, DeepLabV3Cascaded, DeepLabV3Plus
from kerasseg.models.deeplabv3 import aspp


def test_aspp_keeps_the_image_pool_name():
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, aspp(inputs, 4, (2,), name="aspp"))
    assert isinstance(model.get_layer("aspp_image_pool"), AdaptiveAveragePooling)
    assert model.get_layer("aspp_image_pool").bins == 1


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow
def test_resnet101_os16_parameters_match_the_mobilenetv2_paper():
    # MobileNetV2 paper (Sandler et al., CVPR 2018), Table 7: DeepLabv3 on ResNet-101, output stride 16, 58.16M
    # (published.md marks it unverified; it agrees with the layer arithmetic: 42.66M backbone + ASPP).
    model = DeepLabV3(classes=21, backbone="resnet101", weights=None)
    assert abs(_trainable(model) - 58.16e6) / 58.16e6 < 0.01


def test_mobilenetv2_head_without_atrous_branches_matches_the_mobilenetv2_paper():
    # Same table: DeepLabv3 on MobileNetV2 at output stride 16 "without ASPP" (1×1 + image pooling), 2.11M.
    # The paper counts trainable weights (no batch-norm moving statistics).
    model = DeepLabV3(classes=21, backbone="mobilenetv2", alpha=1.0, atrous_rates=(), weights=None)
    assert abs(_trainable(model) - 2.11e6) / 2.11e6 < 0.01


def test_aspp_has_the_papers_branches_and_rates():
    model = DeepLabV3(classes=5, backbone="mobilenetv2", alpha=0.35, weights=None, aspp_filters=8)
    rates = sorted(
        layer.dilation_rate[0]
        for layer in model.layers
        if layer.name.startswith("aspp_rate") and isinstance(layer, keras.layers.Conv2D)
    )
    assert rates == [6, 12, 18]  # section 3.3, output stride 16
    for branch in ("aspp_1x1_bn", "aspp_rate6_bn", "aspp_image_bn", "aspp_project_bn"):
        assert isinstance(model.get_layer(branch), keras.layers.BatchNormalization)
    at8 = DeepLabV3(classes=5, backbone="mobilenetv2", alpha=0.35, weights=None, aspp_filters=8, output_stride=8)
    assert at8.get_layer("aspp_rate12_conv").dilation_rate == (12, 12)  # rates doubled at output stride 8
    assert at8.get_layer("aspp_rate36_conv").dilation_rate == (36, 36)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_encoder_runs_at_the_output_stride(output_stride):
    model = DeepLabV3Plus(classes=3, backbone="mobilenetv2", alpha=0.35, weights=None, aspp_filters=8,
                          decoder_filters=8, output_stride=output_stride, input_shape=(64, 64, 3))
    assert model.get_layer("aspp_concat").output.shape[1:3] == (64 // output_stride, 64 // output_stride)
    assert model.get_layer("decoder_concat").output.shape[1:3] == (16, 16)  # stride-4 low-level features
    assert model.get_layer("decoder_low_level_conv").output.shape[-1] == 48


@pytest.mark.slow
def test_cascaded_blocks_double_their_rate_with_multi_grid():
    model = DeepLabV3Cascaded(classes=3, backbone="resnet50", weights=None, block_filters=8, cascade=3,
                              input_shape=(64, 64, 3))
    # Block4 (conv5) runs at rate 2 at output stride 16; blocks 5, 6, 7 at 4, 8, 16, times the unit rates 1, 2, 4.
    rates = [model.get_layer(f"block{b}_block{u}_2_conv").dilation_rate[0] for b in (5, 6, 7) for u in (1, 2, 3)]
    assert rates == [4, 8, 16, 8, 16, 32, 16, 32, 64]
    assert model.get_layer("classifier").output.shape[1:3] == (4, 4)


def _count_calls(monkeypatch, function) -> list:
    """Replaces ``function`` in every module that imported it by a wrapper that records each call."""
    import sys

    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, function.__name__, None) is function:
            monkeypatch.setattr(module, function.__name__, spy)
    return calls


def test_output_stride_and_multi_grid_are_checked_once_per_build(monkeypatch):
    from kerasseg.backbones._common import check_output_stride
    from kerasseg.backbones.resnet import check_multi_grid

    strides, grids = _count_calls(monkeypatch, check_output_stride), _count_calls(monkeypatch, check_multi_grid)
    DeepLabV3Cascaded(classes=3, backbone="resnet50", weights=None, block_filters=8, input_shape=(64, 64, 3))
    assert (len(strides), len(grids)) == (1, 1)
    with pytest.raises(ValueError, match=r"resnet50: multi_grid needs 3 unit rates \(one per conv5 block\)"):
        DeepLabV3Cascaded(classes=3, backbone="resnet50", weights=None, multi_grid=(1, 2), input_shape=(64, 64, 3))


def test_cascaded_blocks_have_identity_shortcuts_and_the_hand_counted_parameters():
    # One copy of block4 = three bottleneck units on 2048 channels, each (weights + bias, BN γ β μ σ²):
    #   1×1 2048→512: 2048·512 + 512 = 1,049,088   BN 4·512 = 2,048
    #   3×3  512→512: 9·512·512 + 512 = 2,359,808   BN 4·512 = 2,048
    #   1×1 512→2048:  512·2048 + 2048 = 1,050,624  BN 4·2048 = 8,192      → 4,471,808 per unit
    # three units: 13,415,424 per block; blocks 5-7: 40,246,272. The identity shortcut adds nothing (a 1×1
    # 2048→2048 projection would add 4,204,544 per block). ResNet-50 without top: 23,587,712 (keras.applications
    # documentation); classifier 1×1 2048→21: 43,029. Total 23,587,712 + 40,246,272 + 43,029 = 63,877,013.
    model = DeepLabV3Cascaded(classes=21, backbone="resnet50", weights=None, input_shape=(64, 64, 3))
    assert model.count_params() == 63_877_013
    assert not [layer.name for layer in model.layers if layer.name.startswith("block") and "_0_" in layer.name]


def test_fixed_size_that_does_not_divide_names_the_fix():
    with pytest.raises(ValueError, match="multiple of 16.*112"):
        DeepLabV3Plus(classes=3, backbone="mobilenetv2", alpha=0.35, weights=None, input_shape=(100, 112, 3))


def test_deeplabv3_has_no_decoder_to_size():
    # DeepLabv3's head ends in ASPP and the classifier; decoder_filters is DeepLabv3+'s, and is refused by name.
    with pytest.raises(TypeError, match="no option 'decoder_filters'; its options: alpha, include_last_conv"):
        DeepLabV3(classes=3, backbone="mobilenetv2", alpha=0.35, weights=None, decoder_filters=16)


@pytest.mark.slow
def test_xception_decoder_inputs_are_h_over_4_and_h_over_16_on_the_same_pixels():
    # Any size that the output stride divides (80 = 16·5): the stride-4 and stride-16 maps are exactly 20 and 5
    # long, so the decoder's ×4 resize relates position j of both to pixel 4j and 16j; an impulse on pixel 32
    # lands on position 8 and 2 (tests/backbones/test_alignment.py has the method). Keras' unpadded Xception
    # gave 19 and 5, the ×4 resize stretched, and the impulse missed both grids.
    model = DeepLabV3Plus(classes=3, backbone="xception", weights=None, aspp_filters=8, decoder_filters=8)
    probe = keras.Model(model.input, {
        "stride4": model.get_layer("decoder_low_level_conv").input,
        "stride16": model.get_layer("aspp_1x1_conv").input,
    })
    centre_tap_weights(probe)
    sizes = {key: value.shape[1:3] for key, value in probe(np.zeros((1, 80, 80, 3), "float32")).items()}
    assert sizes == {"stride4": (20, 20), "stride16": (5, 5)}
    positions = impulse_positions(probe, 80, 32, (127.5, 127.5, 127.5))
    assert positions == {"stride4": pytest.approx((8, 8), abs=1e-3), "stride16": pytest.approx((2, 2), abs=1e-3)}


@pytest.mark.parametrize("builder", [DeepLabV3, DeepLabV3Plus])
def test_resnet_block4_uses_the_default_multi_grid(builder):
    # DeepLabv3 section 4.1 / Table 4 and the v3+ ResNet baseline: Multi_Grid = (1, 2, 4) in block4, times the
    # block's rate 2 at output stride 16, so its three 3×3 convolutions run at rates 2, 4, 8.
    model = builder(classes=3, backbone="resnet50", weights=None, aspp_filters=8, input_shape=(64, 64, 3))
    rates = [model.get_layer(f"conv5_block{u}_2_conv").dilation_rate for u in (1, 2, 3)]
    assert rates == [(2, 2), (4, 4), (8, 8)]


def test_decoder_layers_and_their_hand_counted_parameters():
    # Paper section 3.1, Table 2's best decoder: 1×1 to 48 channels on the stride-4 features, concatenation,
    # [3×3, 256] twice, then the classifier; with plain convolutions (separable=False), no biases, BN γ β μ σ²:
    #   low level 1×1: C4·48 + 4·48; conv1 3×3: 9·(F + 48)·F + 4·F; conv2 3×3: 9·F·F + 4·F; classifier F·K + K
    # with F = decoder_filters = 8, ASPP output F_aspp = 8, K = 3 classes.
    model = DeepLabV3Plus(classes=3, backbone="mobilenetv2", alpha=0.35, weights=None, aspp_filters=8,
                          decoder_filters=8, separable=False, input_shape=(64, 64, 3))
    c4 = model.get_layer("decoder_low_level_conv").input.shape[-1]
    expected = (c4 * 48 + 4 * 48) + (9 * (8 + 48) * 8 + 4 * 8) + (9 * 8 * 8 + 4 * 8) + (8 * 3 + 3)
    decoder = [la for la in model.layers if la.name.startswith("decoder_") or la.name == "classifier"]
    assert sum(la.count_params() for la in decoder) == expected
    assert model.get_layer("classifier").input is model.get_layer("decoder_conv2_relu").output
    assert model.get_layer("decoder_conv2_conv").input is model.get_layer("decoder_conv1_relu").output


# The probe (tools/alignment_probe.py prints it for every backbone and size): centre-tap weights
# (tests/model_checks.py) carry a one-hot impulse on a pixel of the stride-16 grid to one cell of each map; the
# decoder's resizes bring it back as a tent whose centroid is where that cell lands. One path at a time: the
# stride-4 features (encoder silenced at the ASPP projection) and the encoder (low-level 1×1 silenced, and the
# image pooling, a global mean). Cell j of a stride-s map sits on pixel s·j + c: c = 0 for Xception and ResNet,
# s − 1 for Keras' MobileNetV2; a half-pixel resize by s puts it on s·j + (s − 1)/2, hence (s − 1)/2 off: 1.5 at
# stride 4 and, ×4 twice from stride 16, 1.5 + 4 · 1.5 = 7.5 (opposite in sign for MobileNetV2).
PATHS = {"stride-4": ("aspp_project_bn",), "encoder": ("decoder_low_level_bn", "aspp_image_bn")}
BACKGROUND = {"resnet50": (123.68, 116.779, 103.939)}  # preprocesses to 0; mid-grey for the others
GRID_OFFSET = {"xception": 0, "resnet50": 0, "mobilenetv2": 15}  # c at stride 16


def landed(model, backbone: str, size: int, paths=PATHS) -> dict:
    """Path → offset in pixels (row, column) of an impulse on the stride-16 grid near the middle."""
    centre_tap_weights(model)
    pixel = 16 * (size // 32) + GRID_OFFSET[backbone]
    probe = keras.Model(model.input, {"logits": model.output})
    offsets = {}
    for path, silenced in paths.items():
        for name in silenced:
            gamma, beta, mean, var = model.get_layer(name).get_weights()
            model.get_layer(name).set_weights([0 * gamma, beta, mean, var])
        (row, col), = impulse_positions(probe, size, pixel, BACKGROUND.get(backbone, (127.5,) * 3)).values()
        offsets[path] = (row - pixel, col - pixel)
        for name in silenced:
            gamma, beta, mean, var = model.get_layer(name).get_weights()
            model.get_layer(name).set_weights([0 * gamma + 1, beta, mean, var])
    return offsets


@pytest.mark.parametrize("backbone, aligned_resize, size, stride4, encoder", [
    ("xception", None, 80, 0, 0),  # the default for the paper's backbone: on the pixel
    ("xception", None, 81, 0, 0),  # any size: (None, None, 3), padded inside to 96
    ("xception", None, 112, 0, 0),
    ("xception", False, 80, 1.5, 7.5),  # half-pixel resizes
    ("mobilenetv2", None, 80, -1.5, -7.5),  # default: half-pixel, as the zoo's camvid-mobile was trained
    ("mobilenetv2", True, 80, 0, 0),
    ("resnet50", True, 80, 0, 0),
])
@pytest.mark.slow
def test_an_impulse_comes_back_on_its_pixel_through_both_decoder_paths(
    backbone, aligned_resize, size, stride4, encoder
):
    shape = (size, size, 3) if size % 16 == 0 else (None, None, 3)
    options = {"alpha": 0.35} if backbone == "mobilenetv2" else {}
    model = DeepLabV3Plus(classes=1, backbone=backbone, weights=None, aspp_filters=4, decoder_filters=4,
                          input_shape=shape, aligned_resize=aligned_resize, **options)
    offsets = landed(model, backbone, size)
    assert offsets == {"stride-4": pytest.approx((stride4,) * 2, abs=1e-3),
                       "encoder": pytest.approx((encoder,) * 2, abs=1e-3)}


@pytest.mark.slow
def test_deeplabv3_on_xception_upsamples_onto_the_pixel():
    # One ×16 resize from stride 16: half-pixel it would land (16 − 1)/2 = 7.5 pixels off.
    model = DeepLabV3(classes=1, backbone="xception", weights=None, aspp_filters=4, input_shape=(80, 80, 3))
    assert landed(model, "xception", 80, {"encoder": ("aspp_image_bn",)}) == {
        "encoder": pytest.approx((0, 0), abs=1e-3)
    }
    assert model.get_layer("logits_resize").grid == "top_left"


@pytest.mark.slow
def test_aligned_resize_is_a_setting_of_the_saved_model(tmp_path):
    model = DeepLabV3Plus(classes=2, backbone="mobilenetv2", alpha=0.35, weights=None, aspp_filters=4,
                          decoder_filters=4, aligned_resize=True)
    assert [model.get_layer(n).grid for n in ("decoder_upsample", "logits_resize")] == ["bottom_right"] * 2
    model.save(tmp_path / "aligned.keras")
    loaded = keras.saving.load_model(tmp_path / "aligned.keras", safe_mode=True)
    image = np.random.default_rng(0).uniform(0, 255, (1, 40, 56, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(model(image)))
    with pytest.raises(ValueError, match="feature grid of backbone 'vgg16'"):
        DeepLabV3Plus(classes=2, backbone="vgg16", weights=None, aligned_resize=True)
