"""The VOC 2012 tfds builder on a tiny fake ``VOCtrainval_11-May-2012.tar`` in the real layout."""

import tarfile

import numpy as np
import pytest
from data_helpers import write_image, write_palette_mask

from kerasseg.data import load_dataset, voc_palette

TRAIN = {"2007_000032": 1, "2007_000039": 15, "2008_000002": 20}  # id -> object class in the left half
VAL = {"2007_000033": 7, "2009_000001": 12}
SBD_ONLY = {"2008_000123": 3, "2010_000456": 9}  # masks only in SegmentationClassAug


def _example(index: int, label: int):
    """Left half red with the object class, right half blue background, a 255 boundary column between."""
    height, width = 24 + 2 * index, 32 + 4 * index  # distinct sizes: a mispaired mask cannot pass
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (210, 30, 30)
    image[:, width // 2 :] = (30, 30, 210)
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2 - 1] = label
    mask[:, width // 2 - 1] = 255
    return image, mask


def _fake_voc(manual, stray=None):
    """The VOC tar in the real layout; ``stray``: ``{image id: label}`` pixels written into that mask's corner."""
    voc = manual / "build" / "VOCdevkit" / "VOC2012"
    lists = voc / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    everything = {**TRAIN, **VAL, **SBD_ONLY}
    for index, (image_id, label) in enumerate(everything.items()):
        image, mask = _example(index, label)
        mask[0, 0] = (stray or {}).get(image_id, mask[0, 0])
        write_image(voc / "JPEGImages" / f"{image_id}.jpg", image, quality=95)
        write_image(manual / "SegmentationClassAug" / f"{image_id}.png", mask)  # index PNGs, as DeepLab's
        if image_id not in SBD_ONLY:
            write_palette_mask(voc / "SegmentationClass" / f"{image_id}.png", mask, voc_palette())
    (lists / "train.txt").write_text("\n".join(TRAIN) + "\n")
    (lists / "val.txt").write_text("\n".join(VAL) + "\n")
    with tarfile.open(manual / "VOCtrainval_11-May-2012.tar", "w") as tar:
        tar.add(manual / "build" / "VOCdevkit", arcname="VOCdevkit")
    for path in sorted((manual / "build").rglob("*"), reverse=True):  # only the tar stays in the manual dir
        path.rmdir() if path.is_dir() else path.unlink()
    (manual / "build").rmdir()


@pytest.fixture(scope="module")
def voc_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    _fake_voc(root / "downloads" / "manual")
    return root


def _check_examples(ds, labels_by_size):
    count = 0
    for image, mask in ds.as_numpy_iterator():
        count += 1
        assert image.dtype == np.float32 and mask.dtype == np.int32 and image.shape[:2] == mask.shape
        label = labels_by_size[mask.shape]  # the size identifies the example
        assert set(np.unique(mask).tolist()) == {0, label, 255}  # palette index -> class id, 255 kept
        # aligned: the object class sits on the red half, the background on the blue half (JPEG blurs edges)
        assert image[mask == label][:, 0].mean() > 180 and image[mask == label][:, 2].mean() < 60
        assert image[mask == 0][:, 2].mean() > 180 and image[mask == 0][:, 0].mean() < 60
    return count


def _sizes(ids):
    everything = list({**TRAIN, **VAL, **SBD_ONLY}.items())
    return {_example(i, lab)[1].shape: lab for i, (image_id, lab) in enumerate(everything) if image_id in ids}


def test_official_split_counts_labels_and_alignment(voc_dirs):
    train_ds, train = load_dataset("voc2012", "train", data_dir=str(voc_dirs))
    val_ds, val = load_dataset("voc2012", "val", data_dir=str(voc_dirs))
    assert (train.num_examples, val.num_examples) == (len(TRAIN), len(VAL))
    assert train.num_classes == 21 and train.class_names[15] == "person" and train.ignore_label == 255
    assert _check_examples(train_ds, _sizes(TRAIN)) == len(TRAIN)
    assert _check_examples(val_ds, _sizes(VAL)) == len(VAL)


def test_augmented_train_is_every_aug_mask_not_in_val(voc_dirs):
    train_ds, train = load_dataset("voc2012-aug", "train", data_dir=str(voc_dirs))
    _, val = load_dataset("voc2012-aug", "val", data_dir=str(voc_dirs))
    assert (train.num_examples, val.num_examples) == (len(TRAIN) + len(SBD_ONLY), len(VAL))
    assert _check_examples(train_ds, _sizes({**TRAIN, **SBD_ONLY})) == len(TRAIN) + len(SBD_ONLY)


def test_missing_manual_download_says_where_to_put_it(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"(?s)downloads/manual is missing or empty.*VOCtrainval_11-May-2012"
    ):
        load_dataset("voc2012", "train", data_dir=str(tmp_path))


def test_unknown_split(voc_dirs):
    with pytest.raises(ValueError, match="valid splits: train, val"):
        load_dataset("voc2012", "test", data_dir=str(voc_dirs))


def test_training_pipeline_shuffles_the_encoded_examples(voc_dirs):
    from kerasseg.data import make_train_pipeline

    train_ds, _ = load_dataset("voc2012", "train", data_dir=str(voc_dirs))
    images, masks = next(make_train_pipeline(train_ds, 3, crop_size=(20, 20), seed=0).as_numpy_iterator())
    assert images.shape == (3, 20, 20, 3) and masks.shape == (3, 20, 20)
    assert set(np.unique(masks).tolist()) <= {0, 255, *TRAIN.values()}


def test_preflight_reads_every_example_of_the_joined_splits(voc_dirs, tmp_path):
    from kerasseg.data import preflight

    preflight("voc2012", ["train+val"], str(voc_dirs))  # the 5 good examples pass
    ds, info = load_dataset("voc2012", "train+val", str(voc_dirs))
    assert info.num_examples == _check_examples(ds, _sizes({**TRAIN, **VAL})) == len(TRAIN) + len(VAL)
    bad = tmp_path / "bad"
    _fake_voc(bad / "downloads" / "manual", stray={"2007_000033": 42})
    with pytest.raises(ValueError, match=r"2007_000033.png has labels outside \[0, 21\).*: 42 \(1 pixels\)"):
        preflight("voc2012", ["train", "val"], str(bad))  # found while tfds builds it, before any training
