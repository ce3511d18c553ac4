"""ResizeLike: its grids against a hand-written interpolation, saved and exported; the zoo's files unchanged."""

from pathlib import Path

import keras
import numpy as np
import pytest

import kerasseg  # noqa: F401  (registers the layers)
from kerasseg.layers import ResizeLike

REPO = Path(__file__).resolve().parents[2]
# Logits of both files on one image, computed with the code they were trained with (before ResizeLike had
# ``grid``): uniform noise from the seed stored with them, 32×48.
FIXTURE = REPO / "tests" / "fixtures" / "camvid_mobile_logits.npz"
# Saved before ResizeLike had a grid (a config without it must load as half-pixel); the zoo's first camvid-mobile,
# held here too until round 3 replaced it, was saved by the same code.
SAVED = {
    "round2_best": REPO / "saved_models" / "notes" / "camvid-mobile-round2" / "best.keras",
}
GRIDS = ("half_pixel", "top_left", "bottom_right")


def interpolation_matrix(k: int, r: int, grid: str) -> np.ndarray:
    """(r·k, k): row i holds the weights of the two cells that output i reads, at u clamped to [0, k − 1].

    Cell j lies on output r·j + c: c = (r − 1)/2 (half-pixel), 0 (top-left) or r − 1 (bottom-right), so
    output i reads u = (i − c)/r.
    """
    c = {"half_pixel": (r - 1) / 2, "top_left": 0, "bottom_right": r - 1}[grid]
    matrix = np.zeros((r * k, k))
    for i in range(r * k):
        u = min(max((i - c) / r, 0), k - 1)
        low = int(np.floor(u))
        high = min(low + 1, k - 1)
        matrix[i, low] += 1 - (u - low)
        matrix[i, high] += u - low
    return matrix


def expected_resize(x: np.ndarray, r: int, grid: str) -> np.ndarray:
    rows = interpolation_matrix(x.shape[1], r, grid)
    cols = interpolation_matrix(x.shape[2], r, grid)
    return np.einsum("ih,nhwc,jw->nijc", rows, x, cols)


def resizer(grid: str, k: tuple, r: int, dynamic: bool = False) -> keras.Model:
    """(N, r·h, r·w, 3) → ResizeLike(grid) of its r×r average pool back to (N, r·h, r·w, 3)."""
    shape = (None, None, 3) if dynamic else (r * k[0], r * k[1], 3)
    inputs = keras.Input(shape)
    pooled = keras.layers.AveragePooling2D(r)(inputs)
    return keras.Model(inputs, ResizeLike(grid=grid, name="resize")([pooled, inputs]))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("r, dynamic", [(4, False), (2, False), (4, True)])
def test_each_grid_reads_cell_j_at_its_own_pixel(grid, r, dynamic):
    k = (5, 3)
    image = np.random.default_rng(r).uniform(-1, 1, (2, r * k[0], r * k[1], 3)).astype("float32")
    model = resizer(grid, k, r, dynamic)
    pooled = image.reshape(2, k[0], r, k[1], r, 3).mean((2, 4))
    np.testing.assert_allclose(np.asarray(model(image)), expected_resize(pooled, r, grid), atol=1e-5)


def test_a_cell_lands_on_r_j_or_r_j_plus_r_minus_1():
    # One nonzero cell j = 2 of 5, resized ×4: the response peaks (value 1) on pixel 8, 9.5 or 11.
    x = np.zeros((1, 5, 5, 1), "float32")
    x[0, 2, 2] = 1.0
    reference = keras.ops.zeros((1, 20, 20, 1))
    for grid, peak in (("top_left", 8), ("bottom_right", 11)):
        y = np.asarray(ResizeLike(grid=grid)([x, reference]))[0, :, :, 0]
        assert np.unravel_index(y.argmax(), y.shape) == (peak, peak) and y.max() == pytest.approx(1), grid
    # Half-pixel: the peak falls between pixels 9 and 10, which read cell 2 at 1.875 and 2.125 (weight 7/8).
    y = np.asarray(ResizeLike()([x, reference]))[0, :, :, 0]
    np.testing.assert_allclose(y[9:11, 9:11], np.full((2, 2), (7 / 8) ** 2))
    assert y.max() == pytest.approx((7 / 8) ** 2)


@pytest.mark.slow
def test_grid_is_saved_and_a_config_without_it_is_half_pixel(tmp_path):
    model = resizer("bottom_right", (3, 4), 4)
    image = np.random.default_rng(0).uniform(0, 255, (1, 12, 16, 3)).astype("float32")
    path = tmp_path / "resize.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("resize").grid == "bottom_right"
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(model(image)))
    config = ResizeLike(grid="top_left").get_config()
    del config["grid"]  # a layer saved before ``grid`` existed
    assert ResizeLike.from_config(config).grid == "half_pixel"


def test_bad_grid_is_named():
    with pytest.raises(ValueError, match="grid must be one of half_pixel, top_left, bottom_right"):
        ResizeLike(grid="corners")
    with pytest.raises(ValueError, match="bilinear"):
        ResizeLike(interpolation="nearest", grid="top_left")


@pytest.mark.parametrize("grid", ["top_left", "bottom_right"])
def test_grids_export_to_builtin_tflite_ops_and_onnx(grid, tmp_path):
    from kerasseg.export import onnx_ops, run_onnx, run_tflite, tflite_op_list, to_onnx, to_tflite
    from kerasseg.export.gpu import gpu_unsupported

    model = resizer(grid, (4, 6), 4)
    image = np.random.default_rng(1).uniform(0, 255, (1, 16, 24, 3)).astype("float32")
    expected = np.asarray(model(image))
    tflite = to_tflite(model, str(tmp_path / "resize.tflite"), metadata=False)
    resizes = [op for op in tflite_op_list(tflite) if op["op"] == "RESIZE_BILINEAR"]
    assert len(resizes) == 1
    assert not resizes[0]["options"]["alignCorners"] and not resizes[0]["options"]["halfPixelCenters"]
    assert "CUSTOM" not in {op["op"] for op in tflite_op_list(tflite)}  # builtin ops only
    assert gpu_unsupported(tflite) == []
    np.testing.assert_allclose(run_tflite(tflite, image), expected, atol=1e-4)

    import onnx

    path = to_onnx(model, str(tmp_path / "resize.onnx"))
    modes = [
        attribute.s.decode()
        for node in onnx.load(path).graph.node if node.op_type == "Resize"
        for attribute in node.attribute if attribute.name == "coordinate_transformation_mode"
    ]
    assert modes == ["asymmetric"] and "Resize" in onnx_ops(path)
    np.testing.assert_allclose(run_onnx(path, image), expected, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(SAVED))
def test_saved_camvid_mobile_models_compute_what_they_computed(key):
    reference = np.load(FIXTURE)
    image = np.random.default_rng(int(reference["image_seed"])).uniform(0, 255, (1, 32, 48, 3)).astype("float32")
    model = keras.saving.load_model(SAVED[key], safe_mode=True, compile=False)
    assert {layer.grid for layer in model.layers if isinstance(layer, ResizeLike)} == {"half_pixel"}
    np.testing.assert_allclose(np.asarray(model(image))[0], reference[key], rtol=0, atol=1e-4)
