"""The recipe options of ``train``: warm start from a saved model, softened class weights, the scale range."""

import inspect
from unittest import mock

import keras
import numpy as np
import pytest
from test_training import _write_folder_dataset, batched, colour_data, tiny_net

from kerasseg import training


def test_init_from_copies_every_weight_and_names_a_mismatch(tmp_path):
    keras.utils.set_random_seed(1)
    source = tiny_net()
    source.save(tmp_path / "source.keras")
    keras.utils.set_random_seed(2)
    target = tiny_net()
    images, _ = colour_data(2)
    assert not np.allclose(source.predict(images, verbose=0), target.predict(images, verbose=0))
    training.init_weights(target, tmp_path / "source.keras")
    np.testing.assert_array_equal(source.predict(images, verbose=0), target.predict(images, verbose=0))

    with pytest.raises(ValueError, match="logits_classifier") as error:
        training.init_weights(tiny_net(classes=5), tmp_path / "source.keras")
    assert "source.keras" in str(error.value)


def test_train_warm_starts_and_softens_the_class_weights(tmp_path):
    keras.utils.set_random_seed(3)
    start = tiny_net()
    start.save(tmp_path / "start.keras")
    images, labels = colour_data(4)
    seen = {}
    original = training.compile_model

    def spy(model, classes=None, **kwargs):
        seen["weights"] = kwargs["class_weights"]
        seen["kernel"] = model.get_layer("conv1").get_weights()[0].copy()
        return original(model, classes, **kwargs)

    with mock.patch("kerasseg.training.model.compile_model", spy):
        training.train(
            tiny_net(),
            batched(images, labels),
            None,
            epochs=1,
            num_classes=3,
            class_weights=[4.0, 1.0, 0.25],
            class_weight_power=0.5,
            init_from=tmp_path / "start.keras",
            out_dir=tmp_path / "run",
            tensorboard=False,
            verbose=0,
        )
    assert seen["weights"] == [2.0, 1.0, 0.5]  # square roots
    np.testing.assert_array_equal(seen["kernel"], start.get_layer("conv1").get_weights()[0])


def test_scale_range_reaches_the_train_pipeline(tmp_path):
    spec = _write_folder_dataset(tmp_path / "data")
    with mock.patch("kerasseg.data.make_train_pipeline") as pipeline:
        training.data.load_data(_options(spec, val=False, input_size=(16, 16), scale_range=(0.75, 1.25)))
    assert pipeline.call_args.kwargs["scale_range"] == (0.75, 1.25)


def _options(data, **changes) -> training.TrainOptions:
    """``train``'s options for ``data``: its defaults, with ``changes``."""
    parameters = inspect.signature(training.train).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    return training.TrainOptions(model="unet", data=data, **{**defaults, **changes})
