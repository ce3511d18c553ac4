"""kerasseg.evaluation.legend_handles: the swatches of a figure legend are the colours the overlays paint."""

import numpy as np
import pytest

from kerasseg.data import colorize
from kerasseg.evaluation import legend_handles


def test_legend_swatches_are_the_mask_colours_in_class_order():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 128, 255]], np.uint8)
    handles = legend_handles(["background", "car", "sky"], palette)
    assert [h.get_label() for h in handles] == ["0 background", "1 car", "2 sky"]
    painted = colorize(np.array([[0, 1, 2]]), palette)[0] / 255.0
    for handle, colour in zip(handles, painted, strict=True):
        np.testing.assert_allclose(handle.get_facecolor()[:3], colour, atol=1e-6)


def test_legend_refuses_a_palette_with_too_few_colours():
    with pytest.raises(ValueError, match="2 colours for 3 classes"):
        legend_handles(["a", "b", "c"], np.zeros((2, 3), np.uint8))
