"""PSPNet (Zhao et al., CVPR 2017): structure, parameter count by hand, auxiliary loss, input sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_checks import build_small, structured_images

import kerasseg
from kerasseg.models import inference_model

# keras.applications ResNet50 without top (published.md, keras.applications documentation).
RESNET50_NO_TOP = 23_587_712


def pspnet_head_parameters(channels: int, stage4_channels: int, classes: int) -> int:
    """The paper's head by hand: 4 pyramid levels (1×1 conv to C/4 + batch norm), 3×3 conv 512 + BN, 1×1
    classifier; auxiliary head: 3×3 conv 256 + BN, 1×1 classifier. Batch norm holds 4 vectors per channel."""
    level = channels // 4
    pyramid = 4 * (channels * level + 4 * level)
    final = 3 * 3 * (channels + 4 * level) * 512 + 4 * 512 + 512 * classes + classes
    aux = 3 * 3 * stage4_channels * 256 + 4 * 256 + 256 * classes + classes
    return pyramid + final + aux


@pytest.mark.slow
def test_resnet50_structure_and_parameter_count():
    model = kerasseg.PSPNet(classes=21, input_shape=(64, 64, 3), backbone="resnet50", weights=None)
    assert set(model.output) == {"logits", "aux"}

    ppm = model.get_layer("pyramid_pooling")
    # Output stride 8: the pyramid pools the dilated conv5 features at 64 / 8 = 8.
    assert ppm.input is model.get_layer("conv5_block3_out").output
    assert tuple(ppm.input.shape) == (None, 8, 8, 2048)
    assert ppm.bins == (1, 2, 3, 6)
    assert [conv.filters for conv in ppm.convs] == [512] * 4  # 1/N of 2048 with N = 4 levels
    assert tuple(ppm.output.shape) == (None, 8, 8, 4096)
    assert model.get_layer("final_conv").kernel.shape == (3, 3, 4096, 512)
    # The auxiliary head reads the stage-4 (res4b22 in the paper; conv4 here) features.
    assert model.get_layer("aux_conv").input is model.get_layer("conv4_block6_out").output
    assert model.get_layer("aux_conv").kernel.shape == (3, 3, 1024, 256)
    assert model.get_layer("final_dropout").rate == pytest.approx(0.1)
    assert model.get_layer("aux_dropout").rate == pytest.approx(0.1)

    assert model.count_params() == RESNET50_NO_TOP + pspnet_head_parameters(2048, 1024, 21)


def _cross_entropy():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)


@pytest.mark.slow
def test_auxiliary_loss_trains_the_aux_head_and_the_backbone():
    model = build_small("pspnet", classes=3)
    x = structured_images(2, (64, 64))
    y = np.random.default_rng(0).integers(0, 3, (2, 64, 64))
    ce = _cross_entropy()

    # Gradient of a backbone stage-4 weight (under the aux head's input) with and without the aux loss.
    stage4 = model.get_layer("block_12_project").kernel
    with tf.GradientTape(persistent=True) as tape:
        out = model(x, training=True)
        main, aux = ce(y, out["logits"]), ce(y, out["aux"])
        total = main + 0.4 * aux
    with_aux, without = tape.gradient(total, stage4).numpy(), tape.gradient(main, stage4).numpy()
    assert np.abs(with_aux - without).max() > 1e-3 * np.abs(with_aux).max() > 0
    assert tape.gradient(main, model.get_layer("aux_classifier").kernel) is None

    aux_kernel = model.get_layer("aux_classifier").kernel
    before = aux_kernel.numpy().copy()
    model.compile(keras.optimizers.SGD(0.1), loss=ce)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Only the aux loss reaches the aux classifier (its gradient from the main loss is None, above).
    assert not np.allclose(aux_kernel.numpy(), before)


@pytest.mark.slow
def test_inference_model_drops_the_aux_head_and_aux_false_builds_without_it():
    model = build_small("pspnet", classes=3)
    x = structured_images(1, (64, 64))
    single = inference_model(model)
    assert len(single.outputs) == 1
    np.testing.assert_allclose(single.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)

    plain = build_small("pspnet", classes=3, aux=False)
    assert len(plain.outputs) == 1 and plain.output.shape == (None, 64, 64, 3)
    assert "aux_classifier" not in [layer.name for layer in plain.layers]


@pytest.mark.slow
def test_any_multiple_of_the_output_stride_works():
    # 56 × 72 gives 7 × 9 features: pyramid bins 2, 3 and 6 divide neither side.
    model = build_small("pspnet", classes=3, input_shape=(56, 72, 3))
    x = structured_images(1, (56, 72))
    assert model.predict(x, verbose=0).shape == (1, 56, 72, 3)
    out = model(x, training=True)
    assert out["logits"].shape == (1, 56, 72, 3) and out["aux"].shape == (1, 56, 72, 3)


def test_size_that_is_not_a_multiple_of_8_is_rejected_with_the_size_to_use():
    with pytest.raises(ValueError, match="height 60 is not a multiple of 8; pad or resize it to 64"):
        kerasseg.PSPNet(classes=3, input_shape=(60, 64, 3), weights=None)


@pytest.mark.slow
def test_plain_compile_and_fit_train_the_aux_head_with_weight_0_4(tmp_path):
    model = kerasseg.PSPNet(classes=3, input_shape=(None, None, 3), weights=None, backbone="mobilenetv2", alpha=0.35,
                            filters=16, aux_filters=8)
    ce = _cross_entropy()
    model.compile("sgd", loss=ce)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 48, 40, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 48, 40))
    y_pred = model(x, training=True)  # one mask for both outputs
    expected = float(ce(y, y_pred["logits"])) + 0.4 * float(ce(y, y_pred["aux"]))
    assert float(model.compute_loss(x, y, y_pred)) == pytest.approx(expected, rel=1e-5)
    # At evaluation, the loss is the logits' alone (the paper's test-time network).
    logits = model.predict(x, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(float(ce(y, logits)), rel=1e-4)
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])
    model.save(tmp_path / "pspnet.keras")
    loaded = keras.saving.load_model(tmp_path / "pspnet.keras", safe_mode=True)
    assert loaded.compiled and loaded.aux_weight == 0.4
    assert np.isfinite(loaded.fit(x, y, epochs=1, verbose=0).history["loss"][0])
