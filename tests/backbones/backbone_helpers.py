"""Shared helpers of the backbone tests: the shared data folder, random weights, feature comparisons."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# <repo root>/../shared, as CI lays it out beside the clone.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def camvid_image(size: int) -> np.ndarray:
    """The first CamVid validation image, resized to size×size, as a float32 (1, size, size, 3) RGB batch."""
    from PIL import Image

    folder = SHARED / "data" / "camvid" / "val"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (CI always has ../shared)")
    path = sorted(folder.glob("*.png"))[0]
    image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype="float32")[None]


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Random, non-trivial weights: BN statistics and biases away from their identity initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape),
                rng.normal(0.0, 0.1, beta.shape),
                rng.normal(0.0, 0.1, mean.shape),
                rng.uniform(0.5, 1.5, var.shape),
            ])
        elif layer.weights:
            values = layer.get_weights()
            if len(values) == 2:  # kernel, bias
                values[1] = rng.normal(0.0, 0.05, values[1].shape)
            layer.set_weights([v.astype("float32") for v in values])


def features_of(model: keras.Model, x: np.ndarray) -> dict:
    """Eager forward pass (graph mode may fold constants differently in two graphs: last-bit differences)."""
    return {key: np.asarray(value) for key, value in model(x).items()}


def assert_features_close(ours: np.ndarray, theirs: np.ndarray, atol: float = 1e-5) -> None:
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol * scale)
