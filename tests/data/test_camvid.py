"""CamVid (SegNet layout) and ISBI 2012 read from the real files in ../shared/data."""

from pathlib import Path

import numpy as np
import pytest
from data_helpers import SHARED_DATA, needs_shared
from PIL import Image

from kerasseg.data import load_dataset
from kerasseg.data.camvid import CLASS_WEIGHTS, SEGNET_PUBLISHED_CLASS_WEIGHTS, median_frequency_weights

CAMVID = SHARED_DATA / "camvid"
ISBI = SHARED_DATA / "isbi2012"


def _listed(split):
    return [line.split() for line in (CAMVID / f"{split}.txt").read_text().splitlines() if line.strip()]


def _independent_median_frequency(mask_files, classes=11):
    """Eigen & Fergus 2015: freq_c = pixels of c / pixels of the images containing c; w_c = median / freq_c."""
    pixels, image_pixels = {c: 0 for c in range(classes)}, {c: 0 for c in range(classes)}
    for path in mask_files:
        values, counts = np.unique(np.asarray(Image.open(path)), return_counts=True)
        size = int(counts.sum())
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            if value < classes:
                pixels[value] += count
                image_pixels[value] += size
    freq = [pixels[c] / image_pixels[c] for c in range(classes)]
    return np.median(freq) / np.array(freq)


@pytest.mark.slow
@needs_shared("camvid")
def test_camvid_split_sizes_match_segnet():
    # SegNet (Badrinarayanan et al., TPAMI 2017, Sec. 4.1): 367 training and 101 validation images
    _, train = load_dataset("camvid", "train", data_dir=str(CAMVID))
    _, val = load_dataset("camvid", "val")  # default root: $KERASSEG_DATA/camvid (tests/conftest.py)
    assert (train.num_examples, val.num_examples) == (367, 101)
    assert train.num_classes == 11 and train.class_names[0] == "Sky" and train.class_names[10] == "Bicyclist"


@needs_shared("camvid")
def test_joined_splits_read_train_then_val():
    # a final model trained on train+val (``--train-split train+val``) sees the 468 images in list order
    from kerasseg.data.datasets import file_source

    source, info = file_source("camvid", "train+val", str(CAMVID))
    listed = _listed("train") + _listed("val")
    assert info.num_examples == len(source.pairs) == 468
    assert [(p.name, m.name) for p, m in source.pairs] == [(Path(i).name, Path(m).name) for i, m in listed]
    with pytest.raises(ValueError, match="unknown CamVid split 'tset'"):
        load_dataset("camvid", "train+tset", data_dir=str(CAMVID))


@needs_shared("camvid")
def test_camvid_examples_shapes_labels_and_ignore_mapping():
    ds, info = load_dataset("camvid", "val", data_dir=str(CAMVID))
    for (image, mask), (image_file, mask_file) in zip(
        ds.take(3).as_numpy_iterator(), _listed("val"), strict=False
    ):
        raw_image = np.asarray(Image.open(CAMVID / image_file))
        raw_mask = np.asarray(Image.open(CAMVID / mask_file))
        assert image.shape == (360, 480, 3) and image.dtype == np.float32
        assert mask.shape == (360, 480) and mask.dtype == np.int32
        np.testing.assert_array_equal(image, raw_image)
        # SegNet protocol: value 11 (Unlabelled) is ignored, 0-10 are the classes
        np.testing.assert_array_equal(mask == 255, raw_mask == 11)
        np.testing.assert_array_equal(mask[raw_mask < 11], raw_mask[raw_mask < 11])
        assert set(np.unique(mask).tolist()) <= set(range(11)) | {255}
    assert (raw_mask == 11).any()  # the files do exercise the ignore mapping


@needs_shared("camvid")
def test_median_frequency_weights_match_an_independent_computation():
    files = [CAMVID / mask for _, mask in _listed("train")[::60]]
    np.testing.assert_allclose(
        median_frequency_weights(files), _independent_median_frequency(files), rtol=1e-6
    )


@needs_shared("camvid")
def test_stated_class_weights_are_those_of_the_train_masks():
    files = [CAMVID / mask for _, mask in _listed("train")]
    np.testing.assert_allclose(CLASS_WEIGHTS, _independent_median_frequency(files), atol=6e-5)
    # SegNet's published weights agree within 25% for 10 of the 11 classes (SignSymbol, index 6, is 2.5× ours)
    ratio = CLASS_WEIGHTS / SEGNET_PUBLISHED_CLASS_WEIGHTS
    assert np.all(np.abs(np.delete(ratio, 6) - 1) < 0.25), ratio


@needs_shared("isbi2012")
def test_isbi_split_grayscale_and_labels():
    train_ds, train = load_dataset("isbi2012", "train", data_dir=str(ISBI))
    val_ds, val = load_dataset("isbi2012", "val", data_dir=str(ISBI))
    assert (train.num_examples, val.num_examples) == (25, 5)
    assert train.class_names == ["membrane", "cell"]
    image, mask = next(val_ds.as_numpy_iterator())
    raw_image = np.asarray(Image.open(ISBI / "image" / "25.png"))  # val starts at slice 25
    raw_label = np.asarray(Image.open(ISBI / "label" / "25.png"))
    assert image.shape == (512, 512, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], raw_image)
    np.testing.assert_array_equal(mask, (raw_label == 255).astype(np.int32))  # 0 membrane, 255 cell -> 0, 1


@needs_shared("isbi2012")
def test_isbi_unknown_split():
    with pytest.raises(ValueError, match="valid splits: train, val, all"):
        load_dataset("isbi2012", "test", data_dir=str(ISBI))
