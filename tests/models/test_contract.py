"""SegmentationModel.fit: a tf.data input trains without Keras' "shuffle=True ... will be ignored" warning."""

import warnings

import numpy as np
import tensorflow as tf

from kerasseg.losses import SegmentationCrossEntropy
from kerasseg.models import get_model


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

