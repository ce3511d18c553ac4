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


def test_comparison_figure_has_a_row_per_image_a_column_per_mask_and_the_legend():
    import matplotlib

    matplotlib.use("Agg")
    from kerasseg.evaluation import comparison_figure

    images = [np.zeros((4, 6, 3), np.float32), np.full((4, 6, 3), 255.0, np.float32)]
    truth = [np.zeros((4, 6), int), np.ones((4, 6), int)]
    figure = comparison_figure(images, {"ground truth": truth, "prediction": truth}, ["road", "car"])
    assert len(figure.axes) == 6
    assert [ax.get_title() for ax in figure.axes[:3]] == ["image", "ground truth", "prediction"]
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["0 road", "1 car"]
    # second row, ground truth: the white image blended with class 1's VOC colour (128, 0, 0), alpha 0.6
    np.testing.assert_array_equal(figure.axes[4].get_images()[0].get_array()[0, 0], [179, 102, 102])


def test_write_legend_still_writes_a_png_with_the_swatches(tmp_path):
    from PIL import Image

    from kerasseg.evaluation.visualize import write_legend

    path = write_legend(tmp_path / "legend.png", ["road", "car"], np.array([[255, 0, 0], [0, 0, 255]], np.uint8))
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    assert {(255, 0, 0), (0, 0, 255)} <= set(map(tuple, pixels.tolist()))
    assert not list(tmp_path.glob(".*tmp*"))
