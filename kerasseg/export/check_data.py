"""Images (and labels) for checking and calibrating an export: a dataset split, a folder of images, or shapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class CheckData:
    """``images`` (N, H, W, 3) float32 in [0, 255] at the export's size; ``masks`` (N, H, W) int32 or None."""

    images: np.ndarray
    masks: np.ndarray | None
    class_names: list[str] | None
    source: str


def _resize_image(image, size) -> np.ndarray:
    return tf.image.resize(tf.cast(image, tf.float32), size).numpy()


def _resize_mask(mask, size) -> np.ndarray:
    return tf.image.resize(tf.cast(mask, tf.int32)[..., None], size, method="nearest").numpy()[..., 0]


def load_check_data(
    spec: str, size: tuple[int, int], split: str = "val", limit: int = 16, data_dir: str | None = None
) -> CheckData:
    """The first ``limit`` examples of ``spec`` resized to ``size`` (images bilinear, masks nearest).

    ``spec`` is a folder of images (no labels), or a dataset spec of ``kerasseg.data.load_dataset``
    ("camvid", "isbi2012", "folder:IMAGES_DIR:MASKS_DIR", ...) read at ``split``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    folder = Path(spec)
    if folder.is_dir():
        return _folder(folder, size, limit)
    from kerasseg.data import load_dataset

    ds, info = load_dataset(spec, split, data_dir)
    images, masks = [], []
    for image, mask in ds.take(limit):
        images.append(_resize_image(image, size))
        masks.append(_resize_mask(mask, size))
    if not images:
        raise ValueError(f"dataset {spec!r} split {split!r} has no examples")
    return CheckData(np.stack(images), np.stack(masks), list(info.class_names), f"{spec} ({split}, {len(images)})")


def _folder(folder: Path, size, limit) -> CheckData:
    from kerasseg.data.masks import read_image  # names the file it cannot decode

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    images = np.stack([_resize_image(read_image(p), size) for p in files])
    return CheckData(images, None, None, f"{folder} ({len(files)} images)")


def synthetic_check_data(size: tuple[int, int], n: int = 8, seed: int = 0) -> CheckData:
    """Shapes on textured backgrounds (``kerasseg.data.synthetic``), for a report when no data is given."""
    from kerasseg.data.synthetic import make_shapes

    images, _ = make_shapes(n, max(size), seed)
    return CheckData(_resize_image(images, size), None, None, f"synthetic shapes ({n})")
