"""Folder datasets: pairing by stem, splits, class maps, inferred classes, and errors naming the file."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import random_image, write_image, write_palette_mask

from kerasseg.data import load_dataset, voc_palette
from kerasseg.data.folders import default_root


def _folder(tmp_path, names, size=(6, 8), mask_fn=None, image_suffix=".png"):
    rng = np.random.default_rng(0)
    images, masks = tmp_path / "images", tmp_path / "masks"
    expected = {}
    for i, name in enumerate(names):
        image = random_image(rng, *size)
        labels = mask_fn(i) if mask_fn else np.full(size, i % 3, np.uint8)
        write_image(
            images / f"{name}{image_suffix}", image, **({"quality": 100} if image_suffix == ".jpg" else {})
        )
        write_image(masks / f"{name}.png", labels)
        expected[name] = (image, labels)
    return images, masks, expected


def test_pairs_are_matched_by_stem_whatever_the_order_and_suffix(tmp_path):
    names = ["zeta", "alpha", "m_03"]
    images, masks, expected = _folder(tmp_path, names)
    ds, info = load_dataset(f"folder:{images}:{masks}", classes=3)
    examples = list(ds.as_numpy_iterator())
    assert info.num_classes == 3 and info.num_examples == 3 and len(examples) == 3
    for name, (image, mask) in zip(sorted(names), examples, strict=True):
        np.testing.assert_array_equal(image, expected[name][0].astype(np.float32))
        np.testing.assert_array_equal(mask, expected[name][1])
        assert image.dtype == np.float32 and mask.dtype == np.int32


def test_jpeg_images_with_palette_masks(tmp_path):
    rng = np.random.default_rng(1)
    images, masks = tmp_path / "JPEGImages", tmp_path / "SegmentationClass"
    labels = np.zeros((16, 16), np.uint8)
    labels[4:12, 4:12] = 15
    labels[4, 4:12] = 255
    write_image(images / "2007_000032.jpg", random_image(rng, 16, 16))
    write_palette_mask(masks / "2007_000032.png", labels, voc_palette())
    ds, info = load_dataset(f"folder:{images}:{masks}", classes=21)
    image, mask = next(ds.as_numpy_iterator())
    assert image.shape == (16, 16, 3)
    np.testing.assert_array_equal(mask, labels)


def test_classes_are_inferred_from_the_masks_with_the_class_map(tmp_path):
    images, masks, _ = _folder(tmp_path, ["a", "b"], mask_fn=lambda i: np.full((6, 8), [0, 255][i], np.uint8))
    _, info = load_dataset(f"folder:{images}:{masks}", class_map={255: 1})
    assert info.num_classes == 2 and info.class_names == ["class_0", "class_1"]


def test_split_subfolders(tmp_path):
    for split, count in (("train", 3), ("val", 2)):
        rng = np.random.default_rng(count)
        for i in range(count):
            write_image(tmp_path / "img" / split / f"{i}.png", random_image(rng, 4, 4))
            write_image(tmp_path / "ann" / split / f"{i}.png", np.zeros((4, 4)))
    spec = f"folder:{tmp_path / 'img'}:{tmp_path / 'ann'}"
    assert load_dataset(spec, "train", classes=2)[1].num_examples == 3
    assert load_dataset(spec, "val", classes=2)[1].num_examples == 2


def test_flat_folder_refuses_a_val_split(tmp_path):
    images, masks, _ = _folder(tmp_path, ["a"])
    with pytest.raises(ValueError, match=r"no subfolder 'val'"):
        load_dataset(f"folder:{images}:{masks}", "val", classes=3)


def test_empty_split_names_the_folders(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(ValueError, match=r"split is empty: .*images"):
        load_dataset(f"folder:{tmp_path / 'images'}:{tmp_path / 'masks'}", classes=2)


def test_missing_folder_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}:{tmp_path}", classes=2)


def test_image_without_mask_is_named(tmp_path):
    images, masks, _ = _folder(tmp_path, ["a", "b"])
    write_image(images / "orphan.png", np.zeros((6, 8, 3)))
    with pytest.raises(ValueError, match=r"orphan\.png has no mask"):
        load_dataset(f"folder:{images}:{masks}", classes=3)


def test_size_mismatch_fails_at_load_naming_the_mask(tmp_path):
    images, masks, _ = _folder(tmp_path, ["a", "b"])
    write_image(masks / "b.png", np.zeros((6, 9)))
    with pytest.raises(ValueError, match=r"b\.png has shape \(6, 9\), image .*b\.png has shape \(6, 8\)"):
        load_dataset(f"folder:{images}:{masks}", classes=3)


def test_bad_label_stops_iteration_with_the_file_name(tmp_path):
    images, masks, _ = _folder(tmp_path, ["a", "b"])
    write_image(masks / "b.png", np.full((6, 8), 9))
    ds, _ = load_dataset(f"folder:{images}:{masks}", classes=3)
    with pytest.raises(tf.errors.OpError, match=r"b\.png has labels outside \[0, 3\) and the ignore label 255: 9 \(48 pixels\)"):
        list(ds.as_numpy_iterator())


def test_bad_spec_and_unknown_dataset():
    with pytest.raises(ValueError, match="folder:IMAGES_DIR:MASKS_DIR"):
        load_dataset("folder:only_one")
    with pytest.raises(ValueError, match=r"Unknown dataset 'cityscapes'; valid datasets: camvid, voc2012"):
        load_dataset("cityscapes")


def test_training_pipeline_shuffles_file_names_once_per_epoch(tmp_path):
    from kerasseg.data import make_train_pipeline

    names = [f"img{i}" for i in range(6)]
    images, masks, expected = _folder(tmp_path, names, mask_fn=lambda i: np.full((6, 8), i % 2, np.uint8))
    ds, _ = load_dataset(f"folder:{images}:{masks}", classes=2)

    def epoch(seed):
        return [
            x
            for batch, _ in make_train_pipeline(ds, 3, seed=seed, augment=False).as_numpy_iterator()
            for x in batch
        ]

    first, again = epoch(4), epoch(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same order
    originals = [expected[name][0].astype(np.float32) for name in names]
    order = [next(k for k, o in enumerate(originals) if np.array_equal(x, o)) for x in first]
    assert sorted(order) == list(range(6))  # every example exactly once
    assert order != list(range(6))  # and shuffled


def test_a_file_dataset_without_data_dir_is_read_from_kerasseg_data_only(tmp_path, monkeypatch):
    # An installed library has no data folder of its own: a clone's ../shared/data is not looked in, whether
    # beside the package or the current directory.
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    monkeypatch.delenv("KERASSEG_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="pass data_dir=.*or set KERASSEG_DATA to the folder that holds camvid/"):
        load_dataset("camvid", "val")
    (tmp_path / "camvid").mkdir()
    monkeypatch.setenv("KERASSEG_DATA", str(tmp_path))
    assert default_root("camvid") == (tmp_path / "camvid").resolve()
    with pytest.raises(FileNotFoundError, match=f"no isbi2012 folder {tmp_path / 'isbi2012'} \\(KERASSEG_DATA="):
        default_root("isbi2012")
