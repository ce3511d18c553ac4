"""``load_dataset(spec, split)``: every dataset as ``tf.data`` of ``(image, mask)`` plus its ``DatasetInfo``.

The contract: image float32 ``(H, W, 3)`` RGB in [0, 255]; mask int32 ``(H, W)`` with class ids in
``[0, num_classes)`` and 255 = ignore.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from kerasseg.data import camvid, isbi
from kerasseg.data.folders import FileSource, default_root, files_dataset, pair_files, split_folders
from kerasseg.data.info import IGNORE_LABEL, DatasetInfo
from kerasseg.data.masks import MASK_SUFFIXES, LabelMapping, check_sizes

DATASETS = ("camvid", "voc2012", "voc2012-aug", "pets", "isbi2012", "folder:IMAGES_DIR:MASKS_DIR")
FILE_DATASETS = ("camvid", "isbi2012")
TFDS_DATASETS = ("voc2012", "voc2012-aug", "pets")


def unknown_dataset(spec: str) -> ValueError:
    return ValueError(f"Unknown dataset {spec!r}; valid datasets: {', '.join(DATASETS)}")


def input_folders(spec, data_dir: str | None = None) -> dict[str, Path]:
    """The folders a dataset is read from, ``{what: folder}``, which no output may overlap (a spec that is not a
    string, a ``tf.data.Dataset``, has none)."""
    if not isinstance(spec, str):
        return {}
    if spec.startswith("folder:"):
        images, masks = parse_folder_spec(spec)
        return {"the image folder": images, "the mask folder": masks}
    if spec in FILE_DATASETS:
        try:
            return {f"the {spec} folder": Path(data_dir) if data_dir else default_root(spec)}
        except FileNotFoundError:  # reported when the data is read
            return {}
    return {"the data folder": Path(data_dir)} if data_dir else {}


def parse_folder_spec(spec: str) -> tuple[Path, Path]:
    """``folder:IMAGES_DIR:MASKS_DIR`` → the two folders."""
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] != "folder" or not parts[1] or not parts[2]:
        raise ValueError(f"folder dataset spec must be 'folder:IMAGES_DIR:MASKS_DIR', got {spec!r}")
    return Path(parts[1]), Path(parts[2])


def _mask_values(mask_path) -> dict[int, int]:
    """``{value: pixels}`` of an index mask; {} for colour or unreadable masks (the reader names those)."""
    try:
        with Image.open(mask_path) as mask:
            if mask.mode in ("RGB", "RGBA"):
                return {}
            values, counts = np.unique(np.array(mask).astype(np.int64), return_counts=True)
    except Exception:  # noqa: BLE001 - an unreadable mask is reported by the check and the reader
        return {}
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def _all_split_masks(masks_dir: Path) -> list[Path]:
    """Every mask of a folder dataset, in all its split subfolders, so every split gets the same class count."""
    folders = [masks_dir] + sorted(p for p in masks_dir.iterdir() if p.is_dir())
    return [p for folder in folders for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MASK_SUFFIXES]


def _infer_num_classes(mask_paths, class_map: Mapping) -> int:
    """The class count of folder masks when they declare it unambiguously: labels 0, 1, …, K-1 all present.

    Colour maps name their classes, so they need no scan. A gap in the labels (a stray 254, 16-bit values) or a
    label on fewer than 1 in 10,000 of the labelled pixels (JPEG damage) makes the count a guess: an error.
    """
    labels = [v for v in class_map.values() if v != IGNORE_LABEL]
    if any(isinstance(k, tuple) for k in class_map):
        return max(labels, default=0) + 1
    mask_paths = list(mask_paths)
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        found = list(pool.map(_mask_values, mask_paths))
    pixels: dict[int, int] = {}
    where: dict[int, Path] = {}
    for path, values in zip(mask_paths, found, strict=True):
        for value, count in values.items():
            label = class_map.get(value, value)
            if label != IGNORE_LABEL:
                pixels[label] = pixels.get(label, 0) + count
                where.setdefault(label, path)
    total = sum(pixels.values())
    present = sorted(pixels)
    classes = max(present, default=max(labels, default=0)) + 1
    gaps = [label for label in present if label > 0 and label - 1 not in pixels]
    rare = [label for label in present if pixels[label] * 10_000 < total]
    suspects = sorted(set(gaps + rare))
    if suspects:
        named = ", ".join(f"{v} ({pixels[v]} pixels, e.g. in {where[v]})" for v in suspects[:5])
        raise ValueError(
            f"cannot tell the class count from the masks: labels {present[:20]}{' …' if len(present) > 20 else ''} "
            f"have gaps or nearly empty labels: {named}; declare it with classes=N"
        )
    return classes


def folder_source(
    spec: str,
    split: str = "train",
    *,
    classes: int | None = None,
    class_map: Mapping | None = None,
    class_names: list[str] | None = None,
) -> tuple[FileSource, DatasetInfo]:
    """The files of a ``folder:IMAGES_DIR:MASKS_DIR`` split (``<dir>/<split>`` subfolders when present).

    ``classes=None`` infers the class count from the masks of every split (one pass), when they are unambiguous.
    """
    images_dir, masks_dir = split_folders(*parse_folder_spec(spec), split)
    pairs, problems = pair_files(images_dir, masks_dir)
    class_map = dict(class_map or {})
    if classes is None:
        masks = _all_split_masks(parse_folder_spec(spec)[1])
        classes = len(class_names) if class_names else _infer_num_classes(masks, class_map)
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    names = list(class_names) if class_names else [f"class_{i}" for i in range(classes)]
    info = DatasetInfo(
        name=f"folder:{images_dir}", num_classes=classes, class_names=names, num_examples=len(pairs)
    )
    return FileSource(pairs, LabelMapping(classes, class_map), problems), info


def file_source(
    spec: str, split: str = "train", data_dir: str | None = None, **folder_options
) -> tuple[FileSource, DatasetInfo]:
    """The files of a file-based dataset (camvid, isbi2012, folder:…) before anything is decoded.

    ``split`` may join splits with "+" ("train+val"): their files in that order."""
    if "+" in split:
        parts = [file_source(spec, part, data_dir, **folder_options) for part in split.split("+")]
        pairs = [pair for source, _ in parts for pair in source.pairs]
        problems = [problem for source, _ in parts for problem in source.problems]
        info = dataclasses.replace(parts[0][1], num_examples=len(pairs))
        return FileSource(pairs, parts[0][0].mapping, problems), info
    if spec == "camvid":
        return camvid.source(split, data_dir)
    if spec == "isbi2012":
        return isbi.source(split, data_dir)
    if spec.startswith("folder:"):
        if data_dir is not None:  # it would be silently ignored
            raise ValueError(f"data_dir {data_dir} is for named datasets; {spec} names its folders itself")
        return folder_source(spec, split, **folder_options)
    raise unknown_dataset(spec)


def load_dataset(
    spec: str,
    split: str = "train",
    data_dir: str | None = None,
    *,
    classes: int | None = None,
    class_map: Mapping | None = None,
    class_names: list[str] | None = None,
    manual_dir: str | None = None,
    check_headers: bool = True,
) -> tuple[tf.data.Dataset, DatasetInfo]:
    """A dataset split as ``tf.data`` of ``(image float32 (H, W, 3) in [0, 255], mask int32 (H, W))`` and its info.

    Args:
        spec: "camvid", "voc2012", "voc2012-aug", "pets", "isbi2012" or "folder:IMAGES_DIR:MASKS_DIR".
        split: "train", "val" (and "test" where the dataset has one; "all" for isbi2012 and flat folders);
            splits joined with "+" ("train+val") are read one after the other.
        data_dir: the dataset's folder for camvid / isbi2012 (default ``$KERASSEG_DATA/<name>``);
            tensorflow-datasets' data dir for voc2012 / pets (default tfds' own).
        classes, class_map, class_names: for folder datasets: the class count (default: inferred from the
            masks), ``{value: class}`` or ``{(r, g, b): class}`` (RGB masks need it), the class names.
        manual_dir: where the VOC tar (and SegmentationClassAug) lie (default ``<data_dir>/downloads/manual``).
        check_headers: file datasets check every image/mask pair's header now (sizes match, files open), so a
            bad file fails here rather than mid-epoch. Labels are checked as each mask is decoded.

    Raises:
        ValueError: unknown spec or split, empty split, an image without a mask, a size mismatch (naming the file).
        FileNotFoundError: a missing folder or file.
    """
    if spec in TFDS_DATASETS and "+" in split:
        parts = [load_dataset(spec, part, data_dir, manual_dir=manual_dir) for part in split.split("+")]
        dataset = functools.reduce(lambda a, b: a.concatenate(b), [ds for ds, _ in parts])
        return dataset, dataclasses.replace(parts[0][1], num_examples=sum(i.num_examples for _, i in parts))
    if spec in TFDS_DATASETS:
        if spec == "pets":
            from kerasseg.data import pets

            return pets.load(split, data_dir)
        from kerasseg.data import voc

        return voc.load(spec, split, data_dir, manual_dir)
    if spec not in FILE_DATASETS and not spec.startswith("folder:"):
        raise unknown_dataset(spec)
    source, info = file_source(
        spec, split, data_dir, classes=classes, class_map=class_map, class_names=class_names
    )
    source.raise_problems()
    if check_headers:
        for image_path, mask_path in source.pairs:
            check_sizes(image_path, mask_path)
    return files_dataset(source.pairs, source.mapping), info
