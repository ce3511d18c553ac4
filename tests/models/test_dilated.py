"""Yu & Koltun (ICLR 2016): identity-initialised context module, its 67×67 receptive field, the front end."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.models.dilated import context_module


def _module(classes, variant, identity_noise=None, shape=(None, None), seed=None):
    inputs = keras.Input((*shape, classes))
    return keras.Model(
        inputs, context_module(inputs, classes, variant=variant, identity_noise=identity_noise, seed=seed)
    )


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["basic", "large"])
def test_context_module_is_the_identity_at_initialisation(variant):
    classes = 5
    module = _module(classes, variant, identity_noise=0.0)
    x = np.random.default_rng(0).uniform(0, 3, (2, 24, 20, classes)).astype("float32")
    np.testing.assert_allclose(module(x).numpy(), x, rtol=1e-5, atol=1e-5)
    # Each layer truncates with max(·, 0) (section 3), so negative scores come out as zero.
    signed = np.random.default_rng(1).normal(size=(1, 16, 16, classes)).astype("float32")
    np.testing.assert_allclose(module(signed).numpy(), np.maximum(signed, 0), rtol=1e-5, atol=1e-5)


def test_large_module_noise_breaks_the_symmetry_but_stays_near_the_identity():
    classes = 4
    module = _module(classes, "large", seed=0)  # default σ = 0.01·C/c_out; seeded so the run is repeatable
    kernel = module.get_layer("context_conv1").kernel.numpy()  # C → 2C
    assert not np.allclose(kernel[:, :, :, 0], kernel[:, :, :, 1])  # the two channels of class 0 differ
    x = np.random.default_rng(2).uniform(0, 1, (1, 24, 24, classes)).astype("float32")
    y = module(x).numpy()
    assert not np.array_equal(y, x)
    # Near the identity: small on average (the noise of 7 layers adds up in a few pixels).
    assert np.abs(y - x).mean() < 0.06 and np.abs(y - x).max() < 0.3  # inputs lie in [0, 1]


@pytest.mark.slow
def test_context_module_receptive_field_is_67_by_67():
    # Probe, do not copy Table 1: with positive weights every path is active, so the support of the gradient of
    # one output with respect to the input is the module's receptive field.
    classes, size, centre = 2, 101, 50
    module = _module(classes, "basic", shape=(size, size))
    rng = np.random.default_rng(3)
    for layer in module.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(rng.uniform(0.1, 1.0, layer.kernel.shape).astype("float32"))
    x = tf.ones((1, size, size, classes))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = module(x)[0, centre, centre, 0]
    support = np.abs(tape.gradient(y, x).numpy()[0]).sum(-1) > 0
    rows, cols = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (
        centre - 33,
        centre + 33,
        centre - 33,
        centre + 33,
    )
    assert support.sum() == 67 * 67  # dense: dilations 1, 1, 2, 4, 8, 16, 1 leave no holes


@pytest.mark.slow
def test_front_end_is_output_stride_8_without_pool4_pool5_and_adds_no_parameters():
    model = kerasseg.DilatedFrontEnd(21, (None, None, 3), weights=None)
    names = {layer.name for layer in model.layers}
    assert "block4_pool" not in names and "block5_pool" not in names and "block3_pool" in names
    assert model.get_layer("block4_conv1").dilation_rate == (1, 1)
    assert model.get_layer("block5_conv1").dilation_rate == (2, 2)
    fc6 = model.get_layer("fc6")
    assert fc6.dilation_rate == (4, 4) and fc6.kernel.shape == (
        7,
        7,
        512,
        4096,
    )  # VGG16's fc1, convolutionalized
    # "Dense predictions without any increase in the number of parameters": the VGG16 classifier with a 21-way
    # top has exactly as many as the front end.
    vgg = keras.applications.VGG16(include_top=True, weights=None, classes=21)
    assert model.count_params() == vgg.count_params()

    small = kerasseg.DilatedFrontEnd(3, (64, 96, 3), weights=None, fc_units=8)
    assert small.get_layer("final").output.shape[1:3] == (8, 12)


@pytest.mark.slow
def test_context_net_widths_and_parameters_follow_table_1():
    classes = 21
    model = kerasseg.DilatedContextNet(classes, weights=None, fc_units=8, context="large")
    widths = [model.get_layer(f"context_conv{i}").filters for i in range(1, 8)]
    assert widths == [42, 42, 84, 168, 336, 672, 672]  # 2C, 2C, 4C, 8C, 16C, 32C, 32C for C = 21
    rates = [model.get_layer(f"context_conv{i}").dilation_rate[0] for i in range(1, 8)]
    assert rates == [1, 1, 2, 4, 8, 16, 1]
    channels = [classes, *widths]
    expected = (
        sum(9 * a * b + b for a, b in zip(channels[:-1], channels[1:], strict=True)) + 672 * classes + classes
    )
    front = kerasseg.DilatedFrontEnd(classes, weights=None, fc_units=8)
    assert model.count_params() - front.count_params() == expected
    with pytest.raises(ValueError, match="valid variants: basic, large"):
        kerasseg.DilatedContextNet(3, weights=None, fc_units=8, context="huge")
