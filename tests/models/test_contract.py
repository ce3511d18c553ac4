"""The contract every builder keeps: a class count that is not a positive integer is named before any layer is
built; SegmentationModel.fit trains on tf.data without Keras' "shuffle=True ... will be ignored" warning; at
inference every model returns one logits array, an auxiliary head trains with the paper's weight, and Keras' own
fit, evaluate, save/load, clone_model and from_config work with and without one; compile() gives the papers'
recipe and refuses a loss that would read logits as probabilities."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_checks import build_small, small_input_shape

from kerasseg.losses import SegmentationCrossEntropy
from kerasseg.models import SegmentationModel, get_model, list_models, model_info


@pytest.mark.parametrize("classes", [0, -3, 2.5, True])
def test_every_builder_names_a_bad_class_count(classes):
    for name in list_models():
        with pytest.raises(ValueError, match=rf"{name}: classes must be a positive integer .* got {classes!r}"):
            model_info(name).builder(classes, weights=None)
    assert get_model("unet", classes=np.int64(2), base_filters=4, depth=2).output_shape[-1] == 2


@pytest.mark.slow
def test_fit_on_a_dataset_does_not_warn_about_shuffle():
    model = get_model("unet", classes=2, input_shape=(16, 16, 3), base_filters=4, depth=2, weights=None)
    model.compile("adam", loss=SegmentationCrossEntropy())
    images = np.zeros((4, 16, 16, 3), np.float32)
    masks = np.zeros((4, 16, 16), np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks)).batch(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # a user who asks for it still hears Keras
        warnings.simplefilter("always")
        model.fit(dataset, epochs=1, verbose=0, shuffle=True)
    assert [w for w in caught if "shuffle" in str(w.message)]



# --- one array out at inference; Keras' own APIs on models with and without an auxiliary head -----------------

def _small(aux: bool):
    if aux:
        return get_model("pspnet", classes=3, input_shape=(None, None, 3), weights=None, backbone="mobilenetv2",
                         alpha=0.35, filters=16, aux_filters=8)
    return get_model("unet", classes=3, input_shape=(None, None, 3), base_filters=4, depth=2, weights=None)


def _data(n=4, size=(32, 40)):
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 255, (n, *size, 3)).astype("float32"), rng.integers(0, 3, (n, *size)).astype("int32"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_predicts_one_logits_array(name):
    shape = small_input_shape(name)
    model = build_small(name, input_shape=shape)
    assert isinstance(model, SegmentationModel)
    x = np.random.default_rng(0).uniform(0, 255, (1, *shape)).astype("float32")
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (1, *shape[:2], 3)
    assert not isinstance(model(x), dict) and not isinstance(model(x, training=False), dict)
    np.testing.assert_allclose(out, np.asarray(model(x)), atol=1e-5)
    symbolic = model(keras.Input(shape))  # nesting the model in another graph: the logits too
    assert not isinstance(symbolic, dict) and symbolic.shape[-1] == 3


@pytest.mark.slow
@pytest.mark.parametrize("aux", [True, False], ids=["aux", "single"])
def test_keras_fit_evaluate_save_clone_and_from_config(aux, tmp_path):
    model = _small(aux)
    x, y = _data()
    assert isinstance(model(x, training=True), dict) is aux  # the aux head exists for training only
    model.compile()  # "auto": the papers' recipe
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0).history
    assert set(history) == {"loss", "miou"} and np.isfinite(history["loss"][0])
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(scores) == {"loss", "miou"} and 0 <= scores["miou"] <= 1
    expected = model.predict(x, verbose=0)

    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
    assert type(loaded.optimizer) is type(model.optimizer) and loaded.compiled
    assert np.isfinite(loaded.fit(x, y, batch_size=2, epochs=1, verbose=0).history["loss"][0])

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), expected, atol=1e-5)
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), expected, atol=1e-5)
    assert isinstance(clone(x, training=True), dict) is aux and isinstance(rebuilt(x, training=True), dict) is aux
    clone.compile(loss=SegmentationCrossEntropy())
    assert np.isfinite(clone.fit(x, y, batch_size=2, epochs=1, verbose=0).history["loss"][0])


def test_auto_compile_is_the_papers_recipe():
    model = _small(aux=True)
    model.compile()
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.learning_rate) == pytest.approx(0.01) and optimizer.momentum == pytest.approx(0.9)
    # the papers' L2 1e-4 through the momentum buffer: Keras' decoupled decay 1e-4 / (1 - 0.9)
    assert optimizer.weight_decay == pytest.approx(1e-3)
    assert isinstance(model.loss, SegmentationCrossEntropy) and model.loss.ignore_label == 255
    assert [m["class_name"] for m in model.get_compile_config()["metrics"]] == ["MeanIoU"]
    assert model.aux_weight == pytest.approx(0.4)
    model.compile(aux_weight=0.0)
    x, y = _data(2)
    y_pred = model(x, training=True)
    assert float(model.compute_loss(x, y, y_pred)) == pytest.approx(float(model.loss(y, y_pred["logits"])), rel=1e-6)


@pytest.mark.parametrize("loss", [
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    keras.losses.SparseCategoricalCrossentropy(),
    keras.losses.CategoricalCrossentropy(),
])
def test_a_loss_that_reads_logits_as_probabilities_is_refused(loss):
    model = _small(aux=False)
    with pytest.raises(ValueError, match="expects probabilities, and kerasseg models return logits") as raised:
        model.compile("adam", loss=loss)
    assert "SegmentationCrossEntropy" in str(raised.value)
    model.compile("adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # accepted


@pytest.mark.slow
def test_a_file_compiled_with_the_old_output_dict_loads_with_its_aux_weight(tmp_path):
    """Files saved before the single-output contract compiled {"logits": loss, "aux": loss} with loss weights."""
    model = _small(aux=True)
    config = {"optimizer": "sgd", "loss": {"logits": SegmentationCrossEntropy(), "aux": SegmentationCrossEntropy()},
              "loss_weights": {"logits": 1.0, "aux": 0.25}, "metrics": {"logits": ["accuracy"]}}
    model.compile_from_config(keras.saving.serialize_keras_object(config))
    assert model.aux_weight == 0.25 and isinstance(model.loss, SegmentationCrossEntropy)
    x, y = _data(2)
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])


def test_an_input_smaller_than_the_multiple_is_told_the_one_size_to_pad_to():
    from kerasseg.models.contract import check_input_shape

    with pytest.raises(ValueError) as refused:
        check_input_shape((5, 64, 3), 8, "pspnet")
    assert str(refused.value) == (
        "pspnet: input height 5 is not a multiple of 8; pad or resize it to 8, "
        "or build with input_shape=(None, None, 3) to pad inside"
    )
    with pytest.raises(ValueError, match=r"height 60 is not a multiple of 8; pad or resize it to 64 \(or 56\)"):
        check_input_shape((60, 64, 3), 8, "pspnet")
