"""Helpers of the data tests: where the real data lives, and writers of small fake images and masks."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def needs_shared(name: str):
    """Skip marker for tests of real data (absent on a user's machine; CI always has ../shared)."""
    return pytest.mark.skipif(not (SHARED_DATA / name).is_dir(), reason=f"{SHARED_DATA / name} is absent")


def write_image(path: Path, array: np.ndarray, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, **save)
    return path


def write_palette_mask(path: Path, labels: np.ndarray, palette: np.ndarray) -> Path:
    """A mode-P PNG whose pixel indices are ``labels`` (as VOC's SegmentationClass masks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = Image.fromarray(np.asarray(labels, np.uint8), mode="P")
    mask.putpalette(np.asarray(palette, np.uint8).ravel().tolist())
    mask.save(path)
    return path


def random_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
