"""ISBI 2012 EM segmentation challenge: 30 grayscale 512×512 slices of neural tissue, membrane vs cell.

Reference: Arganda-Carreras et al., "Crowdsourcing the creation of image segmentation algorithms for connectomics",
Frontiers in Neuroanatomy 2015; the data of Ronneberger et al., "U-Net", MICCAI 2015.

Layout of the root: ``image/<n>.png`` and ``label/<n>.png`` for n = 0…29. Images are grayscale (repeated to 3
channels); label 0 is membrane (class 0), 255 is cell (class 1). The challenge's test labels are not public, so
the 30 labelled slices are split deterministically: slices 0–24 "train", 25–29 "val" (the last five of the stack,
so the two splits do not interleave along z).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasseg.data.folders import FileSource, default_root, pair_files
from kerasseg.data.info import DatasetInfo
from kerasseg.data.masks import LabelMapping

CLASS_NAMES = ["membrane", "cell"]
PALETTE = np.array([(0, 0, 0), (0, 200, 0)], np.uint8)
NUM_TRAIN = 25
SPLITS = ("train", "val", "all")
LICENSE = "ISBI 2012 challenge terms: research use, cite Arganda-Carreras et al. 2015"


def mapping() -> LabelMapping:
    """Label value 0 → membrane (0), 255 → cell (1)."""
    return LabelMapping(num_classes=2, class_map={0: 0, 255: 1})


def _slice_number(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 30, path.stem)


def source(split: str = "train", data_dir: str | Path | None = None) -> tuple[FileSource, DatasetInfo]:
    """The files of an ISBI 2012 split ("train" 25 slices, "val" 5, "all" 30) and its ``DatasetInfo``."""
    if split not in SPLITS:
        raise ValueError(f"unknown ISBI 2012 split {split!r}; valid splits: {', '.join(SPLITS)}")
    root = Path(data_dir) if data_dir is not None else default_root("isbi2012")
    for folder in (root / "image", root / "label"):
        if not folder.is_dir():
            raise FileNotFoundError(f"ISBI 2012 folder {folder} does not exist")
    pairs, problems = pair_files(root / "image", root / "label")
    pairs.sort(key=lambda pair: _slice_number(pair[0]))  # numeric order: 2.png before 10.png
    if split != "all":
        pairs = pairs[:NUM_TRAIN] if split == "train" else pairs[NUM_TRAIN:]
        if not pairs:
            problems.append(
                f"split {split!r} is empty: {root / 'image'} has fewer than {NUM_TRAIN + 1} slices"
            )
    info = DatasetInfo(
        name="isbi2012",
        num_classes=2,
        class_names=list(CLASS_NAMES),
        palette=PALETTE,
        num_examples=len(pairs),
        license=LICENSE,
    )
    return FileSource(pairs, mapping(), problems), info
