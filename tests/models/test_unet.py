"""U-Net (Ronneberger et al., MICCAI 2015): the paper's valid network, the same-padded variant, overlap-tile."""

import keras
import numpy as np
import pytest

from kerasseg.models import SegmentationModel
from kerasseg.models.unet import UNet, overlap_tile_predict, valid_unet_output_size


@pytest.mark.slow
def test_paper_network_shapes_and_parameters():
    # Fig. 1: 572×572 input tile → 388×388 output map, 64 base filters, 2 classes. The paper's input has one
    # (grayscale) channel: counting its layers gives 31,030,658 weights; our input is RGB, which adds
    # (3 − 1) · 3 · 3 · 64 weights to the first convolution.
    model = UNet(classes=2, input_shape=(572, 572, 3), padding="valid")
    assert model.output_shape == (None, 388, 388, 2)
    assert model.count_params() == 31_030_658 + (3 - 1) * 3 * 3 * 64


@pytest.mark.slow
def test_the_papers_network_keeps_the_contract_but_its_output_size():
    model = UNet(classes=2, input_shape=(204, 204, 3), padding="valid", base_filters=2, dropout=0.0)
    assert isinstance(model, SegmentationModel)
    assert model.output_shape == (None, 20, 20, 2) and model.get_layer("logits").dtype_policy.name == "float32"
    model.compile()  # the papers' recipe, as every other architecture
    x = np.random.default_rng(0).uniform(0, 255, (2, 204, 204, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 2, (2, 20, 20))
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])


@pytest.mark.slow
def test_same_variant_keeps_the_input_size():
    model = UNet(classes=3, input_shape=(None, None, 3), base_filters=4)
    x = np.random.default_rng(0).uniform(0, 255, (1, 50, 37, 3)).astype("float32")
    assert model.predict(x, verbose=0).shape == (1, 50, 37, 3)


@pytest.mark.slow
def test_invalid_sizes_say_which_sizes_work():
    assert valid_unet_output_size(572) == 388
    with pytest.raises(ValueError, match=r"\[556, 572\]"):
        UNet(classes=2, input_shape=(570, 570, 3), padding="valid")
    with pytest.raises(ValueError, match="multiple of 16"):
        UNet(classes=2, input_shape=(100, 96, 3))


@pytest.mark.slow
def test_overlap_tile_equals_one_pass_over_the_mirrored_image():
    rng = np.random.default_rng(1)
    # 204 → 20: tiles step by 16 (the pooling grid of depth 4) and overlap by 4 output pixels.
    tile = UNet(classes=3, input_shape=(204, 204, 3), padding="valid", base_filters=4, dropout=0.0)
    margin = (204 - tile.output_shape[1]) // 2
    image = rng.uniform(0, 255, (40, 36, 3)).astype("float32")
    tiled = overlap_tile_predict(tile, image)

    # One pass over the mirrored image (valid sizes: 52 + 2·92 = 236 → 52, 36 + 184 = 220 → 36), same weights.
    whole = UNet(classes=3, input_shape=(52 + 2 * margin, 36 + 2 * margin, 3), padding="valid", base_filters=4,
                 dropout=0.0)
    whole.set_weights(tile.get_weights())
    mirrored = np.pad(image, ((margin, margin + 12), (margin, margin), (0, 0)), mode="reflect")
    expected = whole.predict(mirrored[None], verbose=0)[0][:40]
    assert tiled.shape == (40, 36, 3)
    np.testing.assert_allclose(tiled, expected, rtol=1e-4, atol=1e-4)


def test_skips_are_cropped_at_the_centre_to_the_papers_sizes():
    # Fig. 1: copy and crop 568 → 392, 280 → 200, 136 → 104, 64 → 56, the same border removed on each side;
    # checked on values: the cropped map is the skip's centre.
    model = UNet(classes=2, input_shape=(572, 572, 3), padding="valid", base_filters=1, dropout=0.0)
    crops = {"up1_crop": (568, 392), "up2_crop": (280, 200), "up3_crop": (136, 104), "up4_crop": (64, 56)}
    for name, (skip, size) in crops.items():
        layer = model.get_layer(name)
        assert layer.input.shape[1] == skip and layer.output.shape[1] == size, name
        margin = (skip - size) // 2
        x = np.random.default_rng(0).normal(size=(1, skip, skip, 1)).astype("float32")
        crop = keras.Sequential([keras.Input((skip, skip, 1)), layer])
        np.testing.assert_array_equal(crop(x).numpy(), x[:, margin:margin + size, margin:margin + size])


@pytest.mark.slow
def test_xception_encoder_skips_fit_at_any_size():
    # The backbone's maps are exactly H/s (kerasseg/backbones/xception.py), so every skip meets its up-convolution;
    # Keras' unpadded entry flow gave 29 and 15 at 64 and the stride-2 concatenation failed.
    model = UNet(classes=2, input_shape=(None, None, 3), backbone="xception", weights=None, base_filters=4)
    assert model.predict(np.zeros((1, 70, 45, 3), "float32"), verbose=0).shape == (1, 70, 45, 2)


def test_options_the_chosen_network_would_not_use_are_refused():
    with pytest.raises(ValueError, match="depth=3 .* backbone='mobilenetv2'"):
        UNet(classes=2, backbone="mobilenetv2", alpha=0.35, weights=None, depth=3)
    with pytest.raises(ValueError, match="unet: alpha are options of a backbone"):
        UNet(classes=2, alpha=0.35)


@pytest.mark.slow
def test_batch_norm_is_honoured_over_a_backbone_too():
    def decoder_norms(model):
        return [layer.name for layer in model.layers if layer.name.startswith("up") and "_bn" in layer.name]

    options = dict(classes=2, backbone="mobilenetv2", alpha=0.35, weights=None, base_filters=4)
    assert len(decoder_norms(UNet(**options))) == 10  # default over a backbone: both convolutions of 5 up blocks
    assert decoder_norms(UNet(**options, batch_norm=False)) == []
    assert decoder_norms(UNet(classes=2, base_filters=4)) == []  # the paper's own paths: none by default
