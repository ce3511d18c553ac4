"""Oxford-IIIT Pet trimaps → labels (the data itself needs a download, so a fake example is mapped)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasseg.data.pets import trimap_to_labels


def _trimap():
    # Parkhi et al. 2012 trimaps: 1 = pet, 2 = background, 3 = border; as tfds stores them, (H, W, 1) uint8
    return np.array([[2, 2, 3, 1], [2, 3, 1, 1], [2, 2, 3, 1]], np.uint8)[..., None]


def test_border_is_ignored_by_default():
    labels = trimap_to_labels(tf.constant(_trimap())).numpy()
    assert labels.dtype == np.int32 and labels.shape == (3, 4)
    np.testing.assert_array_equal(labels, [[0, 0, 255, 1], [0, 255, 1, 1], [0, 0, 255, 1]])


@pytest.mark.slow
def test_border_as_a_third_class():
    labels = trimap_to_labels(tf.constant(_trimap()[..., 0]), border="class").numpy()
    np.testing.assert_array_equal(labels, [[0, 0, 2, 1], [0, 2, 1, 1], [0, 0, 2, 1]])


def test_values_outside_the_trimap_are_ignored():
    labels = trimap_to_labels(tf.constant(np.array([[0, 4, 200]], np.uint8))).numpy()
    np.testing.assert_array_equal(labels, [[255, 255, 255]])


@pytest.mark.slow
def test_bad_border_option():
    with pytest.raises(ValueError, match="'ignore' or 'class'"):
        trimap_to_labels(tf.constant(_trimap()), border="keep")


def test_unknown_split_before_any_download():
    from kerasseg.data import load_dataset

    with pytest.raises(ValueError, match="valid splits: train, test, val"):
        load_dataset("pets", "validation")


def test_an_offline_download_is_a_clear_error():
    import requests

    from kerasseg.data.tfds_source import prepare

    class Offline:  # a tfds builder whose download cannot reach its host
        name, MANUAL_DOWNLOAD_INSTRUCTIONS = "oxford_iiit_pet", None

        def is_prepared(self):
            return False

        def download_and_prepare(self, download_config):
            raise requests.ConnectionError("Failed to resolve 'thor.robots.ox.ac.uk'")

    with pytest.raises(ConnectionError, match=r"oxford_iiit_pet: the download failed \(Failed to resolve .*data_dir=DIR"):
        prepare(Offline())
