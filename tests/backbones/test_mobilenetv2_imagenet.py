"""MobileNetV2 α 0.5 with the real ImageNet weights (../shared/weights) on a real CamVid image.

The reference is ``keras.applications.MobileNetV2`` itself, on ``preprocess_input(image)``.
"""

import shutil

import keras
import numpy as np
import pytest
from backbone_helpers import SHARED, assert_features_close, camvid_image, features_of

from kerasseg.backbones import build_backbone

FILE_NAME = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5"
WEIGHTS = SHARED / "weights" / FILE_NAME
pytestmark = pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"{WEIGHTS} is absent (CI always has ../shared)")

# The last block output at each stride in keras.applications' MobileNetV2 (channels: 16α, 24α, 32α, 96α, 320α).
KERAS_LAYERS = {
    "stride2": "expanded_conv_project_BN",
    "stride4": "block_2_add",
    "stride8": "block_5_add",
    "stride16": "block_12_add",
    "stride32": "block_16_project_BN",
}
SIZE = 224


@pytest.fixture(scope="module")
def image():
    return camvid_image(SIZE)


@pytest.fixture(scope="module")
def reference():
    return keras.applications.MobileNetV2(
        input_shape=(SIZE, SIZE, 3), alpha=0.5, include_top=False, weights=str(WEIGHTS)
    )


@pytest.fixture(scope="module")
def expected(reference, image):
    outputs = {key: reference.get_layer(name).output for key, name in KERAS_LAYERS.items()}
    outputs["out_relu"] = reference.output
    model = keras.Model(reference.input, outputs)
    x = keras.applications.mobilenet_v2.preprocess_input(image.copy())
    return features_of(model, x)


@pytest.fixture(scope="module")
def backbones():
    models = {}
    for output_stride in (32, 16, 8):
        inputs = keras.Input((None, None, 3))
        features = build_backbone(
            "mobilenetv2", inputs, weights=str(WEIGHTS), output_stride=output_stride, alpha=0.5
        )
        models[output_stride] = keras.Model(inputs, features)
    return models


@pytest.mark.slow
def test_output_stride_32_equals_keras_applications(backbones, image, expected):
    ours = features_of(backbones[32], image)
    assert sorted(ours) == sorted(KERAS_LAYERS)
    for key in KERAS_LAYERS:
        assert_features_close(ours[key], expected[key])
    # the network is really at work: a real image gives non-trivial features
    assert np.abs(expected["stride32"]).max() > 1.0


@pytest.mark.parametrize("output_stride", [16, 8])
def test_dilated_backbone_keeps_every_weight(backbones, reference, output_stride):
    model = backbones[output_stride]
    weighted = [layer for layer in model.layers if layer.weights]
    assert len(weighted) == len([la for la in reference.layers if la.weights]) - 2  # all but Conv_1, Conv_1_bn
    for layer in weighted:
        for ours, theirs in zip(layer.get_weights(), reference.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs, err_msg=layer.name)


@pytest.mark.parametrize("output_stride", [16, 8])
def test_dilated_features_have_size_h_over_output_stride(backbones, image, output_stride):
    ours = features_of(backbones[output_stride], image)
    for key, value in ours.items():
        nominal = int(key.removeprefix("stride"))
        assert value.shape[1:3] == (SIZE // min(nominal, output_stride),) * 2, key


def test_atrous_features_contain_the_strided_ones(backbones, image, expected):
    # The atrous algorithm computes the strided network's features densely: keras pads (0, 1) before each
    # stride-2 depthwise conv, so the strided outputs sit at the odd positions of the dense grid.
    os16 = features_of(backbones[16], image)
    assert_features_close(os16["stride32"][:, 1::2, 1::2], expected["stride32"])
    os8 = features_of(backbones[8], image)
    assert_features_close(os8["stride16"][:, 1::2, 1::2], expected["stride16"])
    assert_features_close(os8["stride32"][:, 3::4, 3::4], expected["stride32"])


@pytest.mark.slow
def test_imagenet_weights_from_the_keras_cache(tmp_path, monkeypatch, image, expected):
    # weights="imagenet" reads Keras' own file from $KERAS_HOME/models, offline.
    (tmp_path / "models").mkdir()
    shutil.copy(WEIGHTS, tmp_path / "models" / FILE_NAME)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    inputs = keras.Input((SIZE, SIZE, 3))
    features = build_backbone("mobilenetv2", inputs, weights="imagenet", alpha=0.5, include_last_conv=True)
    ours = features_of(keras.Model(inputs, features), image)
    assert ours["stride32"].shape[-1] == 1280  # the last 1×1 conv is not thinned for α < 1 (paper, Sec. 6.1)
    assert_features_close(ours["stride32"], expected["out_relu"])


def test_imagenet_weights_missing_offline_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(FileNotFoundError, match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top"):
        build_backbone("mobilenetv2", keras.Input((None, None, 3)), weights="imagenet", alpha=0.35)


@pytest.mark.slow
def test_file_of_another_width_names_the_file_and_first_layer():
    # α 0.35 vs 0.5: Conv1 (16 ch), block 0 (16 → 8) and block_1's expand/depthwise (48) agree; block_1_project
    # gives make_divisible(24·0.35) = 8 vs make_divisible(24·0.5) = 16 channels.
    other = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    with pytest.raises(ValueError, match="block_1_project") as error:
        build_backbone("mobilenetv2", keras.Input((None, None, 3)), weights=str(other), alpha=0.5)
    assert other.name in str(error.value)


@pytest.mark.slow
def test_file_of_another_architecture_names_the_file_and_first_layer():
    # Keras itself only reports a layer count mismatch here; the error names ResNet50's first layer.
    with pytest.raises(ValueError, match="conv1_conv") as error:
        build_backbone("resnet50", keras.Input((None, None, 3)), weights=str(WEIGHTS))
    assert FILE_NAME in str(error.value)
