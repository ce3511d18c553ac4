"""FCN (Long et al., CVPR 2015): convolutionalized fc6/fc7, parameter count, skip structure, upsampling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.models.fcn import learnable_upsampling


@pytest.mark.slow
def test_fc6_fc7_convolutions_compute_the_vgg16_classifier_and_fcn8s_has_134m_parameters(tmp_path):
    # The seed's key observation: fully connected layers are convolutions that cover their whole input.
    vgg = keras.applications.VGG16(include_top=True, weights=None)  # random init, 224×224 input
    path = tmp_path / "vgg16_full.weights.h5"
    vgg.save_weights(path)

    fcn = kerasseg.FCN8s(21, (224, 224, 3), weights=str(path))
    # FCN paper Table 1: 134M for the VGG16 FCN; shared/reference/published.md: 134,489,759 by layer arithmetic
    # (13 convs, fc6 7×7×512×4096, fc7, score_fr/pool4/pool3, upscore 4×4, 4×4, 16×16 without bias, 21 classes).
    assert fcn.count_params() == pytest.approx(134e6, rel=0.01)
    assert fcn.count_params() == 134_489_759

    image = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    probe = keras.Model(vgg.input, [vgg.get_layer("fc1").output, vgg.get_layer("fc2").output])
    fc1, fc2 = probe(keras.applications.vgg16.preprocess_input(image.copy()))
    conv = keras.Model(fcn.input, [fcn.get_layer("fc6").output, fcn.get_layer("fc7").output])
    fc6, fc7 = conv(image)
    assert fc6.shape == (2, 7, 7, 4096)  # pool5 is 7×7; the centre position sees all of it, no padding
    for dense, convolution in ((fc1, fc6), (fc2, fc7)):
        dense, centre = dense.numpy(), convolution.numpy()[:, 3, 3, :]
        assert np.abs(dense).max() > 0
        np.testing.assert_allclose(centre, dense, rtol=1e-4, atol=1e-4 * np.abs(dense).max())
    np.testing.assert_array_equal(
        fcn.get_layer("block3_conv2").kernel.numpy(), vgg.get_layer("block3_conv2").kernel
    )


def test_skip_architecture_strides_and_trainable_upsampling():
    model = kerasseg.FCN8s(5, (96, 128, 3), weights=None, fc_units=16)
    shapes = {
        name: model.get_layer(name).output.shape[1:] for name in ("score_fr", "score_pool4", "score_pool3")
    }
    assert shapes == {"score_fr": (3, 4, 5), "score_pool4": (6, 8, 5), "score_pool3": (12, 16, 5)}
    # Section 4.3: the 2× upsamplings learn, the final one stays bilinear.
    assert model.get_layer("upscore2").trainable and model.get_layer("upscore_pool4").trainable
    assert not model.get_layer("upscore8").trainable
    assert model.get_layer("upscore8").kernel.shape == (16, 16, 5, 5)
    assert model.output_shape == (None, 96, 128, 5)

    fcn32 = kerasseg.FCN32s(5, (64, 64, 3), weights=None, fc_units=16)
    assert fcn32.get_layer("upscore").kernel.shape == (64, 64, 5, 5)
    fcn16 = kerasseg.FCN16s(5, (64, 64, 3), weights=None, fc_units=16)
    names = {layer.name for layer in fcn16.layers}
    assert {"score_pool4", "upscore16"} <= names and "score_pool3" not in names


@pytest.mark.parametrize("factor", [2, 8])
def test_learnable_upsampling_starts_as_half_pixel_bilinear_resize(factor):
    # Aligned with the pool grid: equal to bilinear resizing with half-pixel centres away from the border.
    x = np.random.default_rng(factor).normal(size=(1, 6, 5, 3)).astype("float32")
    up = learnable_upsampling(keras.ops.convert_to_tensor(x), 3, factor, name="up").numpy()
    ref = tf.image.resize(x, (6 * factor, 5 * factor), "bilinear").numpy()
    inner = (slice(None), slice(factor, -factor), slice(factor, -factor))
    np.testing.assert_allclose(up[inner], ref[inner], atol=1e-5)


def test_at_once_scales_the_skips():
    model = kerasseg.FCN8s(3, (64, 64, 3), weights=None, fc_units=8, at_once=True)
    pool4 = model.get_layer("block4_pool").output
    scaled = model.get_layer("score_pool4").input
    probe = keras.Model(
        model.input,
        [pool4, scaled, model.get_layer("block3_pool").output, model.get_layer("score_pool3").input],
    )
    p4, s4, p3, s3 = (t.numpy() for t in probe(np.full((1, 64, 64, 3), 200.0, "float32")))
    np.testing.assert_allclose(s4, 0.01 * p4, rtol=1e-6)
    np.testing.assert_allclose(s3, 0.0001 * p3, rtol=1e-6)


def test_bad_arguments_are_reported(tmp_path):
    # VGG16 is the paper's network itself, not a choice: there is no backbone argument to get wrong.
    with pytest.raises(TypeError, match="fcn8s: .*'backbone'; its arguments: classes, input_shape, weights"):
        kerasseg.FCN8s(3, backbone="vgg16", weights=None)
    with pytest.raises(ValueError, match="fc_units=4096"):
        kerasseg.FCN8s(3, weights="imagenet", fc_units=64)
    missing = tmp_path / "nothing.h5"
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        kerasseg.FCN32s(3, weights=str(missing))
    with pytest.raises(ValueError, match="pad or resize it to 128"):
        kerasseg.FCN16s(3, (100, 128, 3), weights=None, fc_units=8)


@pytest.mark.parametrize("name", ["fcn32s", "fcn16s", "fcn8s"])
def test_registry_builds_each_variant_by_name(name):
    model = kerasseg.get_model(name, classes=4, input_shape=(32, 32, 3), weights=None, fc_units=8)
    assert model.name == name and model.output_shape == (None, 32, 32, 4)
    assert kerasseg.model_info(name).backbones == ("vgg16",)


def test_a_fresh_fcn8s_scores_zero_everywhere():
    # Section 4.1 (and the released nets): the class scoring layers start at zero ("zero-initializing the class
    # scoring layer"); random initialisation "yielded neither better performance nor faster convergence". With
    # score_fr, score_pool4 and score_pool3 at zero, every upsampled and fused score is 0 for any image.
    model = kerasseg.FCN8s(4, (64, 64, 3), weights=None, fc_units=8)
    image = np.random.default_rng(5).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    assert not np.any(model(image).numpy())
