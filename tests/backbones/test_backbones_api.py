"""build_backbone's contract: names, options, errors, the papers' dilated front ends, flat serializable graphs."""

import keras
import numpy as np
import pytest
from backbone_helpers import assert_features_close, features_of, randomize

from kerasseg.backbones import BACKBONES, build_backbone
from kerasseg.layers import PadToMultiple

NAMES = ("vgg16", "resnet50", "resnet101", "mobilenetv2", "xception")


def _inputs():
    return keras.Input((None, None, 3))


def test_unknown_backbone_lists_the_valid_ones():
    with pytest.raises(ValueError, match="resnet34") as error:
        build_backbone("resnet34", _inputs())
    for name in NAMES:
        assert name in str(error.value)


@pytest.mark.parametrize("output_stride", [4, 64, "16"])
def test_invalid_output_stride(output_stride):
    with pytest.raises(ValueError, match="output_stride"):
        build_backbone("vgg16", _inputs(), output_stride=output_stride)


def test_metadata_covers_every_backbone():
    assert set(BACKBONES) == set(NAMES)
    modes = {name: meta["preprocessing"] for name, meta in BACKBONES.items()}
    # keras.applications' preprocess_input modes: caffe for VGG and ResNet v1, tf for MobileNetV2 and Xception
    assert modes == {"vgg16": "caffe", "resnet50": "caffe", "resnet101": "caffe", "mobilenetv2": "tf", "xception": "tf"}
    for meta in BACKBONES.values():
        assert hasattr(keras.applications, meta["application"])


@pytest.mark.slow
def test_missing_weights_file_names_it(tmp_path):
    missing = tmp_path / "resnet50_notop.h5"
    with pytest.raises(FileNotFoundError, match="resnet50_notop.h5"):
        build_backbone("resnet50", _inputs(), weights=str(missing))


@pytest.mark.slow
def test_a_file_that_is_not_hdf5_is_named(tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_text("not weights")
    with pytest.raises(ValueError, match="weights.h5"):
        build_backbone("mobilenetv2", _inputs(), weights=str(bad), alpha=0.35)


@pytest.fixture(scope="module")
def mobilenet_035(tmp_path_factory):
    """A random MobileNetV2 α 0.35 saved in the Keras 3 format, and its reference features on a 64×64 input."""
    reference = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None)
    randomize(reference, seed=3)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenetv2_035.weights.h5"
    reference.save_weights(path)
    image = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    x = keras.applications.mobilenet_v2.preprocess_input(image.copy())
    expected = np.asarray(keras.Model(reference.input, reference.get_layer("block_16_project_BN").output)(x))
    return path, image, expected


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # Keras warns about each group it cannot load first
def test_keras3_weights_file_of_another_width_names_the_first_layer(mobilenet_035):
    path = mobilenet_035[0]
    # block_1_project: make_divisible(24·0.35) = 8 channels in the file, make_divisible(24·0.5) = 16 expected.
    with pytest.raises(ValueError, match="block_1_project") as error:
        build_backbone("mobilenetv2", _inputs(), weights=str(path), alpha=0.5)
    assert path.name in str(error.value)


@pytest.mark.slow
def test_backbone_on_an_intermediate_tensor_is_flat_and_serializable(mobilenet_035, tmp_path):
    path, image, expected = mobilenet_035
    inputs = _inputs()
    padded = PadToMultiple(32, name="pad")(inputs)
    features = build_backbone("mobilenetv2", padded, weights=str(path), alpha=0.35)
    model = keras.Model(inputs, features)
    assert_features_close(features_of(model, image)["stride32"], expected)
    # the layers land in the caller's graph with keras.applications' names, no nested model
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    names = [layer.name for layer in model.layers]
    assert names[:3] == [names[0], "pad", "preprocessing"] and "block_13_depthwise" in names
    # and it round-trips through the .keras format in safe mode
    model.save(tmp_path / "backbone.keras")
    loaded = keras.saving.load_model(tmp_path / "backbone.keras", safe_mode=True)
    assert_features_close(features_of(loaded, image)["stride32"], expected, atol=0)


@pytest.mark.parametrize("alpha", [0.35, 0.75, 1.3])
def test_mobilenetv2_widths_match_keras_applications(alpha):
    # Channel rounding of every width multiplier: α 1.3 also widens the last 1×1 conv (1280·1.3 → 1664).
    inputs = _inputs()
    ours = keras.Model(inputs, build_backbone("mobilenetv2", inputs, alpha=alpha, include_last_conv=True))
    theirs = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=alpha, include_top=False, weights=None)
    shapes = {la.name: [tuple(w.shape) for w in la.weights] for la in ours.layers if la.weights}
    assert shapes == {la.name: [tuple(w.shape) for w in la.weights] for la in theirs.layers if la.weights}


@pytest.mark.slow
def test_mobilenetv2_parameter_count_is_the_published_one():
    # keras.applications docs: MobileNetV2 (α 1.0, no top) has 2,257,984 parameters, last 1×1 conv included.
    inputs = _inputs()
    model = keras.Model(inputs, build_backbone("mobilenetv2", inputs, include_last_conv=True)["stride32"])
    assert model.count_params() == 2_257_984
    other = _inputs()
    without = keras.Model(other, build_backbone("mobilenetv2", other)["stride32"])
    # Conv_1 (320×1280 kernel) and its BN (4×1280) are left out by default, as in DeepLabv3.
    assert without.count_params() == 2_257_984 - 320 * 1280 - 4 * 1280


def test_mobilenetv2_imagenet_needs_a_published_width():
    with pytest.raises(ValueError, match="0.35, 0.5, 0.75, 1.0, 1.3, 1.4"):
        build_backbone("mobilenetv2", _inputs(), weights="imagenet", alpha=0.6)


def _config(model, name):
    return model.get_layer(name).get_config()


def test_vgg16_deeplab_front_end():
    # DeepLab-LargeFOV (Chen et al. 2015): 3×3 pools, stride 2 for pool1-3, stride 1 for pool4 and pool5;
    # conv5 dilated by 2; output stride 8.
    inputs = _inputs()
    features = build_backbone("vgg16", inputs, output_stride=8, dilated_pooling="stride1")
    model = keras.Model(inputs, features)
    for block, stride in ((1, 2), (2, 2), (3, 2), (4, 1), (5, 1)):
        config = _config(model, f"block{block}_pool")
        assert tuple(config["pool_size"]) == (3, 3) and tuple(config["strides"]) == (stride, stride)
    assert tuple(_config(model, "block4_conv3")["dilation_rate"]) == (1, 1)
    assert all(tuple(_config(model, f"block5_conv{i}")["dilation_rate"]) == (2, 2) for i in (1, 2, 3))
    shapes = {key: value.shape[1:3] for key, value in features_of(model, np.zeros((1, 64, 64, 3), "float32")).items()}
    expected = {"stride1": 64, "stride2": 32, "stride4": 16, "stride8": 8, "stride16": 8, "stride32": 8}
    assert shapes == {key: (size, size) for key, size in expected.items()}


def test_vgg16_yu_koltun_front_end():
    # Yu & Koltun (2016): pool4 and pool5 removed, conv5 dilated by 2; "stride16"/"stride32" are conv4_3/conv5_3.
    inputs = _inputs()
    features = build_backbone("vgg16", inputs, output_stride=8, dilated_pooling="remove")
    model = keras.Model(inputs, features)
    names = {layer.name for layer in model.layers}
    assert "block4_pool" not in names and "block5_pool" not in names and "block3_pool" in names
    assert all(tuple(_config(model, f"block5_conv{i}")["dilation_rate"]) == (2, 2) for i in (1, 2, 3))
    assert features["stride16"] is model.get_layer("block4_conv3").output
    assert features["stride32"] is model.get_layer("block5_conv3").output
    assert tuple(features["stride32"].shape) == (None, None, None, 512)


def test_an_option_of_another_backbone_is_named():
    # A builder hands its other keyword arguments to the backbone (alpha for MobileNetV2): a wrong one is named there.
    with pytest.raises(TypeError, match="resnet50: no option 'alpha'; its options: multi_grid"):
        build_backbone("resnet50", _inputs(), alpha=0.5)
    with pytest.raises(TypeError, match="xception: no option 'multi_grid'; its options: none"):
        build_backbone("xception", _inputs(), multi_grid=(1, 2, 4))


def test_vgg16_unknown_dilated_pooling():
    with pytest.raises(ValueError, match="stride1, remove"):
        build_backbone("vgg16", _inputs(), output_stride=16, dilated_pooling="strided")


def test_resnet_multi_grid_multiplies_the_conv5_rates():
    # DeepLabv3 (Chen et al. 2017, Sec. 3.2): at output stride 16 (rate 2), Multi_Grid (1, 2, 4) → rates (2, 4, 8).
    inputs = _inputs()
    model = keras.Model(inputs, build_backbone("resnet50", inputs, output_stride=16, multi_grid=(1, 2, 4)))
    rates = [tuple(_config(model, f"conv5_block{i}_2_conv")["dilation_rate"]) for i in (1, 2, 3)]
    assert rates == [(2, 2), (4, 4), (8, 8)]
    assert tuple(_config(model, "conv5_block1_1_conv")["strides"]) == (1, 1)
    assert tuple(_config(model, "conv4_block1_1_conv")["strides"]) == (2, 2)
    with pytest.raises(ValueError, match="multi_grid"):
        build_backbone("resnet50", _inputs(), multi_grid=(1, 2))
