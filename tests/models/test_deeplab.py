"""DeepLab v1 LargeFOV (ICLR 2015) and DeepLab v2 (TPAMI 2017): parameters, atrous structure, image pyramid."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.export import tflite_ops, to_tflite
from kerasseg.models import deeplab


@pytest.mark.slow
def test_largefov_parameter_count_and_atrous_structure():
    model = kerasseg.DeepLabV1LargeFOV(21, (None, None, 3), weights=None)
    # shared/reference/published.md: 20.5M (SegNet TPAMI Table 6), 20,505,429 by layer arithmetic for 21 classes
    # (VGG16 convs 14,714,688 + fc6 3×3×512×1024 + fc7 1024×1024 + fc8 1024×21, with biases).
    assert model.count_params() == pytest.approx(20.5e6, rel=0.01)
    assert model.count_params() == 20_505_429
    fc6 = model.get_layer("fc6")
    assert fc6.kernel.shape == (3, 3, 512, 1024) and fc6.dilation_rate == (12, 12)
    assert model.get_layer("block4_pool").strides == (1, 1) and model.get_layer("block5_pool").strides == (
        1,
        1,
    )
    assert model.get_layer("block5_conv1").dilation_rate == (2, 2)

    small = kerasseg.DeepLabV1LargeFOV(3, (64, 80, 3), weights=None, fc_units=8)
    assert small.get_layer("fc8").output.shape[1:3] == (8, 10)  # output stride 8


@pytest.mark.slow
def test_largefov_decimates_the_vgg16_fc_weights(monkeypatch):
    # Values that name their position: fc6 by (tap, output channel), fc7 by (input, output channel). VGG16's
    # Dense fc1 reads pool5 flattened in (row, column, channel) order: its kernel is fc6's reshaped.
    taps = np.arange(49, dtype="float32").reshape(7, 7, 1, 1) * 10_000
    fc6 = np.ascontiguousarray(np.broadcast_to(taps + np.arange(4096, dtype="float32"), (7, 7, 512, 4096)))
    fc7 = (np.arange(4096, dtype="float32")[:, None] * 4096 + np.arange(4096, dtype="float32"))[None, None]
    dense = {"fc1": [fc6.reshape(7 * 7 * 512, 4096), np.arange(4096, dtype="float32")],
             "fc2": [fc7[0, 0], -np.arange(4096, dtype="float32")]}
    asked = []

    def classifier_file(weights, include_top=False):
        asked.append((weights, include_top))
        return dict(dense)

    monkeypatch.setattr(deeplab, "vgg16_weights", classifier_file)
    model = kerasseg.DeepLabV1LargeFOV(3, (32, 32, 3), weights="imagenet", fc_units=1024)
    assert asked == [("imagenet", True)]  # the classifier's file, with its fully connected layers
    kernel = model.get_layer("fc6").kernel.numpy()
    # Taps 0, 3, 6 of the 7×7 kernel (the 3×3 at rate 3 inside it), every 4th output channel.
    np.testing.assert_array_equal(kernel[1, 2, :, 5], fc6[3, 6, :, 20])
    np.testing.assert_array_equal(model.get_layer("fc6").bias.numpy()[:3], [0, 4, 8])
    np.testing.assert_array_equal(model.get_layer("fc7").kernel.numpy()[0, 0, 7, 9], fc7[0, 0, 28, 36])


@pytest.mark.slow
def test_deeplabv2_resnet101_aspp_structure():
    # The TPAMI paper gives no parameter count: check the structure, and the count by the layer specification
    # (ResNet-101 without top, 42,658,176 in keras.applications' documentation, plus the four ASPP branches).
    model = kerasseg.DeepLabV2(21, weights=None, multi_scale=False)
    branches = [model.get_layer("deeplabv2_single_scale").get_layer(f"aspp_rate{r}") for r in (6, 12, 18, 24)]
    assert [b.dilation_rate[0] for b in branches] == [6, 12, 18, 24]
    assert all(
        b.kernel.shape == (3, 3, 2048, 21) for b in branches
    )  # one 3×3 conv per branch, to the classes
    network = model.get_layer("deeplabv2_single_scale")
    assert len(network.get_layer("aspp_sum").input) == 4
    assert model.count_params() == 42_658_176 + 4 * (9 * 2048 * 21 + 21)
    probe = keras.Model(network.input, [network.get_layer("conv5_block3_out").output, network.output])
    features, scores = probe(np.zeros((1, 64, 48, 3), "float32"))
    assert features.shape == (1, 8, 6, 2048) and scores.shape == (1, 8, 6, 21)  # output stride 8


@pytest.mark.slow
@pytest.mark.parametrize("output_stride", [8, 16])
def test_deeplabv2_scores_at_its_output_stride(output_stride):
    model = kerasseg.DeepLabV2(3, (64, 64, 3), backbone="vgg16", weights=None, fc_units=8,
                               output_stride=output_stride, multi_scale=False)
    network = model.get_layer("deeplabv2_single_scale")
    assert network(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 64 // output_stride, 64 // output_stride, 3)
    assert model.output_shape == (None, 64, 64, 3)


@pytest.mark.slow
def test_image_pyramid_is_the_max_of_the_shared_network_over_scales(tmp_path):
    model = kerasseg.DeepLabV2(3, (64, 64, 3), backbone="vgg16", weights=None, fc_units=8, dropout=0.0)
    network = model.get_layer("deeplabv2_single_scale")
    assert network.get_layer("aspp_rate6_fc6").dilation_rate == (6, 6)  # VGG-16: ASPP-L fc6-fc7-fc8 branches
    image = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype("float32")

    # Independently: resize the image (⌈0.75·64⌉ = 48, 32), run the same network, bring scores to the
    # full-scale map, take the maximum, upsample to the input.
    scores = [network(tf.image.resize(image, (s, s))) for s in (32, 48)] + [network(image)]
    fused = np.maximum.reduce([tf.image.resize(s, (8, 8)).numpy() for s in scores])
    expected = tf.image.resize(fused, (64, 64)).numpy()
    np.testing.assert_allclose(model(image).numpy(), expected, rtol=1e-4, atol=1e-4)

    path = tmp_path / "deeplabv2.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(image).numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_image_pyramid_exports_to_builtin_tflite(tmp_path):
    model = kerasseg.DeepLabV2(3, (64, 64, 3), backbone="vgg16", weights=None, fc_units=8, dropout=0.0)
    ops_ = tflite_ops(to_tflite(model, str(tmp_path / "deeplabv2.tflite")))
    assert not [op for op in ops_ if "Flex" in op or op.startswith("CUSTOM")], ops_


def test_deeplabv2_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="valid backbones: resnet101, resnet50, vgg16"):
        kerasseg.DeepLabV2(3, backbone="mobilenetv2", weights=None)
    with pytest.raises(ValueError, match="output_stride must be one of 8, 16, 32, got 4"):
        kerasseg.DeepLabV2(3, weights=None, output_stride=4)
    with pytest.raises(TypeError, match="deeplabv1_largefov: .*'backbone'"):
        kerasseg.DeepLabV1LargeFOV(3, weights=None, backbone="vgg16")
    with pytest.raises(ValueError, match="valid branches: single, fc"):
        kerasseg.DeepLabV2(3, backbone="vgg16", weights=None, aspp_branch="triple", multi_scale=False)
