"""Images (and labels) for checking and calibrating an export: a dataset split, a folder of images, or shapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kerasseg.evaluation.inference import resize


@dataclass
class CheckData:
    """``images`` (N, H, W, 3) float32 in [0, 255] at the export's size; ``masks`` (N, H, W) int labels or None."""

    images: np.ndarray
    masks: np.ndarray | None
    class_names: list[str] | None
    source: str


def load_check_data(
    spec: str, size: tuple[int, int], split: str = "val", limit: int = 16, data_dir: str | None = None, skip: int = 0
) -> CheckData:
    """``limit`` examples of ``spec`` after the first ``skip``, resized to ``size`` (images bilinear, masks nearest).

    ``spec`` is a folder of images (no labels), or a dataset spec of ``kerasseg.data.load_dataset``
    ("camvid", "isbi2012", "folder:IMAGES_DIR:MASKS_DIR", ...) read at ``split``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    folder = Path(spec)
    if folder.is_dir():
        return _folder(folder, size, limit, skip)
    from kerasseg.data import load_dataset

    ds, info = load_dataset(spec, split, data_dir)
    images, masks = [], []
    for image, mask in ds.skip(skip).take(limit):
        images.append(resize(image, size))
        masks.append(resize(mask, size, "nearest"))
    if not images:
        raise ValueError(f"dataset {spec!r} split {split!r} has no examples{_after(skip)}")
    source = f"{spec} ({split}, {len(images)}{_after_first(skip)})"
    return CheckData(np.stack(images), np.stack(masks), list(info.class_names), source)


def _folder(folder: Path, size, limit, skip) -> CheckData:
    from kerasseg.data.masks import list_images, read_image  # read_image names the file it cannot decode

    files = list_images(folder)[skip : skip + limit]
    if not files:
        raise ValueError(f"{folder} has no images{_after(skip)}")
    images = np.stack([resize(read_image(p), size) for p in files])
    return CheckData(images, None, None, f"{folder} ({len(files)} images{_after_first(skip)})")


def _after_first(skip: int) -> str:
    return f" after the first {skip}" if skip else ""


def _after(skip: int) -> str:
    return f"{_after_first(skip)} (the checked ones): pass calibration=DATA, or limit=N with fewer images" if skip else ""


def synthetic_check_data(size: tuple[int, int], n: int = 8, seed: int = 0) -> CheckData:
    """Shapes on textured backgrounds (``kerasseg.data.synthetic``), for a report when no data is given."""
    from kerasseg.data.synthetic import make_shapes

    images, _ = make_shapes(n, max(size), seed)
    return CheckData(resize(images, size), None, None, f"synthetic shapes ({n})")
