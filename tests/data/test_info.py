"""DatasetInfo checks its fields; colour-coding of masks."""

import numpy as np
import pytest

from kerasseg.data import DatasetInfo, colorize


def test_info_defaults_to_the_voc_palette_and_checks_its_fields():
    info = DatasetInfo(name="toy", num_classes=3, class_names=["a", "b", "c"])
    assert info.ignore_label == 255 and info.palette.shape == (3, 3) and info.palette.dtype == np.uint8
    assert info.palette[1].tolist() == [128, 0, 0]
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        DatasetInfo(name="toy", num_classes=3, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"class_weights has shape \(2,\), expected \(3,\)"):
        DatasetInfo(name="toy", num_classes=3, class_names=["a", "b", "c"], class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"palette has shape \(2, 3\)"):
        DatasetInfo(name="toy", num_classes=3, class_names=["a", "b", "c"], palette=np.zeros((2, 3)))


def test_colorize_uses_the_palette_and_whitens_ignored_pixels():
    palette = np.array([(10, 20, 30), (40, 50, 60)], np.uint8)
    out = colorize(np.array([[0, 1], [255, 1]]), palette)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [10, 20, 30] and out[0, 1].tolist() == [40, 50, 60]
    assert out[1, 0].tolist() == [255, 255, 255]
