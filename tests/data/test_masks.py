"""Mask value → class mapping and pair reading: every mask mode, and errors that name the file."""

import numpy as np
import pytest
from data_helpers import random_image, write_image, write_palette_mask
from PIL import Image

from kerasseg.data import LabelMapping, read_pair, voc_palette


def test_voc_palette_matches_the_published_colours():
    # Colours of the PASCAL VOC devkit's colour map (VOCdevkit VOClabelcolormap): class 1 aeroplane (128, 0, 0),
    # 15 person (192, 128, 128), 20 tvmonitor (0, 64, 128), 255 boundary (224, 224, 192).
    palette = voc_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert palette[0].tolist() == [0, 0, 0]
    assert palette[1].tolist() == [128, 0, 0]
    assert palette[15].tolist() == [192, 128, 128]
    assert palette[20].tolist() == [0, 64, 128]
    assert palette[255].tolist() == [224, 224, 192]


def test_palette_png_gives_indices_not_colours(tmp_path):
    labels = np.array([[0, 1, 2], [15, 20, 255]], np.uint8)
    path = write_palette_mask(tmp_path / "m.png", labels, voc_palette())
    out = LabelMapping(21)(Image.open(path), path)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, labels)


def test_index_mask_with_class_map_and_ignore(tmp_path):
    values = np.array([[0, 11, 3], [11, 7, 0]], np.uint8)
    path = write_image(tmp_path / "m.png", values)
    out = LabelMapping(11, {11: 255})(Image.open(path), path)
    np.testing.assert_array_equal(out, [[0, 255, 3], [255, 7, 0]])


def test_sixteen_bit_index_mask(tmp_path):
    values = np.array([[0, 300], [2, 300]], np.uint16)
    path = tmp_path / "m16.png"
    Image.fromarray(values).save(path)
    out = LabelMapping(3, {300: 1})(Image.open(path), path)
    np.testing.assert_array_equal(out, [[0, 1], [2, 1]])


def test_rgb_mask_through_colour_map(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 1] = (128, 0, 0)
    rgb[1, 0] = (255, 255, 255)
    path = write_image(tmp_path / "c.png", rgb)
    out = LabelMapping(2, {(0, 0, 0): 0, (128, 0, 0): 1, (255, 255, 255): 255})(Image.open(path), path)
    np.testing.assert_array_equal(out, [[0, 1], [255, 0]])


def test_rgb_mask_without_colour_map_names_the_file(tmp_path):
    path = write_image(tmp_path / "rgb_mask.png", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"rgb_mask\.png is an RGB colour mask"):
        LabelMapping(2)(Image.open(path), path)


def test_unknown_colour_is_reported_with_its_value(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[1, 1] = (1, 2, 3)
    path = write_image(tmp_path / "c.png", rgb)
    with pytest.raises(ValueError, match=r"c\.png has colours \[\(1, 2, 3\)\]"):
        LabelMapping(2, {(0, 0, 0): 0})(Image.open(path), path)


def test_labels_outside_the_classes_name_file_and_labels(tmp_path):
    path = write_image(tmp_path / "bad.png", np.array([[0, 1], [5, 254]]))
    with pytest.raises(ValueError, match=r"bad\.png has labels outside \[0, 3\) .*: 5 \(1 pixels\), 254 \(1 pixels\)"):
        LabelMapping(3)(Image.open(path), path)


def test_class_map_to_a_missing_class_is_rejected():
    with pytest.raises(ValueError, match="outside"):
        LabelMapping(2, {7: 4})


def test_read_pair_returns_the_contract_types(tmp_path):
    rng = np.random.default_rng(0)
    image = random_image(rng, 5, 7)
    image_path = write_image(tmp_path / "a.png", image)
    mask_path = write_image(tmp_path / "a_mask.png", np.ones((5, 7)))
    out_image, out_mask = read_pair(image_path, mask_path, LabelMapping(2))
    np.testing.assert_array_equal(out_image, image)
    assert out_mask.dtype == np.int32 and out_mask.shape == (5, 7) and (out_mask == 1).all()


def test_grayscale_image_becomes_three_equal_channels(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image_path = write_image(tmp_path / "g.png", gray)
    mask_path = write_image(tmp_path / "g_mask.png", np.zeros((3, 4)))
    image, _ = read_pair(image_path, mask_path, LabelMapping(2))
    assert image.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], gray)


def test_size_mismatch_names_both_files(tmp_path):
    image_path = write_image(tmp_path / "img_0001.png", np.zeros((360, 480, 3)))
    mask_path = write_image(tmp_path / "mask_0001.png", np.zeros((360, 481)))
    with pytest.raises(ValueError, match=r"mask_0001\.png has shape \(360, 481\), image .*img_0001\.png"):
        read_pair(image_path, mask_path, LabelMapping(2))


def test_unreadable_image_names_the_file(tmp_path):
    image_path = tmp_path / "broken.jpg"
    image_path.write_bytes(b"not an image at all")
    mask_path = write_image(tmp_path / "broken.png", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.jpg"):
        read_pair(image_path, mask_path, LabelMapping(2))


def test_truncated_png_names_the_file(tmp_path):
    image_path = write_image(tmp_path / "t.png", random_image(np.random.default_rng(1), 64, 64))
    image_path.write_bytes(image_path.read_bytes()[:200])
    mask_path = write_image(tmp_path / "t_mask.png", np.zeros((64, 64)))
    with pytest.raises(ValueError, match=r"t\.png"):
        read_pair(image_path, mask_path, LabelMapping(2))
