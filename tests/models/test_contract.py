"""The contract every builder keeps: a class count that is not a positive integer is named before any layer is
built; SegmentationModel.fit trains on tf.data without Keras' "shuffle=True ... will be ignored" warning."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from kerasseg.losses import SegmentationCrossEntropy
from kerasseg.models import get_model, list_models, model_info


@pytest.mark.parametrize("classes", [0, -3, 2.5, True])
def test_every_builder_names_a_bad_class_count(classes):
    for name in list_models():
        with pytest.raises(ValueError, match=rf"{name}: classes must be a positive integer .* got {classes!r}"):
            model_info(name).builder(classes, weights=None)
    assert get_model("unet", classes=np.int64(2), base_filters=4, depth=2).output_shape[-1] == 2


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

