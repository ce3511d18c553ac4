"""Datasets made of image and mask files: pairing by file stem, and the ``tf.data`` reader of the pairs.

``load_dataset`` returns the decoded dataset; ``make_train_pipeline`` finds the cheap undecoded source of a dataset
built here (``lazy_source``) and shuffles file names instead of decoded images, so the shuffle is over the whole
split without a buffer of decoded images.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerasseg.data.masks import IMAGE_SUFFIXES, MASK_SUFFIXES, LabelMapping, dangling_link, read_pair

Pair = tuple[Path, Path]

# dataset returned to the user -> (cheap undecoded dataset, its decode function, number of examples)
_LAZY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register_lazy_source(ds: tf.data.Dataset, source: tf.data.Dataset, decode: Callable, size: int | None):
    """Records that ``ds == source.map(decode)``, so a pipeline may shuffle ``source`` before decoding."""
    _LAZY[ds] = (source, decode, size)


def lazy_source(ds: tf.data.Dataset):
    """``(source, decode, size)`` registered for ``ds``, or None for datasets not built by ``kerasseg.data``."""
    return _LAZY.get(ds)


def _files(folder: Path, suffixes: Sequence[str], what: str) -> tuple[dict[str, Path], list[str]]:
    """``{stem: path}`` of the ``what`` files of ``folder``, and the problems: a dangling symbolic link, two files
    of one stem (``a.png`` and ``a.jpg``: pairs are matched by stem, one would silently win)."""
    files: dict[str, Path] = {}
    problems = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or path.name.startswith("."):
            continue
        if path.is_symlink() and not path.exists():
            problems.append(dangling_link(path, what))
        elif path.stem in files:
            problems.append(
                f"{what}s {files[path.stem].name} and {path.name} in {folder} have the same name {path.stem!r}: "
                "pairs (and predicted masks) are matched by name; rename or remove one"
            )
        elif path.is_file():
            files[path.stem] = path
    return files, problems


def _missing_mask(image: Path, masks_dir: Path) -> str:
    """Why ``image`` has no mask, saying so when a mask of its name exists in a format masks cannot have."""
    other = next((p for p in sorted(masks_dir.glob(f"{glob.escape(image.stem)}.*")) if p.is_file()), None)
    if other is None:
        return f"image {image} has no mask in {masks_dir}"
    if other.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        return (
            f"image {image} has no usable mask: {other} is a {other.suffix} file, and lossy compression changes "
            f"the labels at every edge; save masks as {', '.join(MASK_SUFFIXES)} (lossless)"
        )
    return f"image {image} has no usable mask: {other} is not a mask format ({', '.join(MASK_SUFFIXES)})"


def split_folders(images_dir: str | Path, masks_dir: str | Path, split: str) -> tuple[Path, Path]:
    """The image and mask folders of ``split``: ``<dir>/<split>`` when it exists, else a flat folder is "train".

    A flat folder (no ``<split>`` subfolder) is a single split: asking it for any split but "train" or "all"
    is an error, so that a validation set is never silently the training set.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for folder, what in ((images_dir, "image"), (masks_dir, "mask")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{what} folder {folder} does not exist")
    if (images_dir / split).is_dir():
        if not (masks_dir / split).is_dir():
            raise FileNotFoundError(
                f"image folder {images_dir / split} has no mask folder {masks_dir / split}"
            )
        return images_dir / split, masks_dir / split
    if split in ("train", "all"):
        return images_dir, masks_dir
    subfolders = sorted(p.name for p in images_dir.iterdir() if p.is_dir())
    raise ValueError(
        f"image folder {images_dir} has no subfolder {split!r} (subfolders: {subfolders or 'none'}); "
        "a flat folder is one split, 'train'"
    )


def pair_files(images_dir: str | Path, masks_dir: str | Path) -> tuple[list[Pair], list[str]]:
    """Image/mask pairs matched by file stem (any names, any supported suffix), and the problems found.

    Problems: an image without a mask (a JPEG mask named as such), a mask without an image, two files of one
    stem, a dangling symbolic link, an empty folder. Pairs are sorted by stem.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    (images, image_problems), (masks, mask_problems) = (
        _files(images_dir, IMAGE_SUFFIXES, "image"), _files(masks_dir, MASK_SUFFIXES, "mask")
    )
    problems = image_problems + mask_problems
    problems += [_missing_mask(images[s], masks_dir) for s in sorted(images.keys() - masks.keys())]
    problems += [
        f"mask {masks[s]} has no image in {images_dir}" for s in sorted(masks.keys() - images.keys())
    ]
    pairs = [(images[s], masks[s]) for s in sorted(images.keys() & masks.keys())]
    if not pairs:
        problems.append(
            f"split is empty: no image/mask pairs with matching names in {images_dir} and {masks_dir}"
        )
    return pairs, problems


def pairs_from_list(root: str | Path, list_file: str | Path) -> tuple[list[Pair], list[str]]:
    """Pairs from a SegNet-style list file of ``image_path mask_path`` lines (paths relative to ``root``)."""
    root, list_file = Path(root), Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(f"split list {list_file} does not exist")
    pairs, problems = [], []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            problems.append(f"{list_file}:{number}: expected 'image mask', got {line.strip()!r}")
            continue
        # SegNet's own lists carry absolute paths of the authors' machine: keep the last two parts.
        image, mask = (root / Path(p).parent.name / Path(p).name for p in parts)
        for path, what in ((image, "image"), (mask, "mask")):
            if not path.is_file():
                problems.append(f"{what} {path} (listed in {list_file}:{number}) does not exist")
        pairs.append((image, mask))
    if not pairs:
        problems.append(f"split is empty: {list_file} lists no image/mask pairs")
    return pairs, problems


DATA_ENV = "KERASSEG_DATA"


def default_root(name: str) -> Path:
    """``$KERASSEG_DATA/<name>``: where a file dataset (camvid, isbi2012) is read when no ``data_dir`` is given.

    An installed library knows no data folder of its own: without ``data_dir`` (--data-dir) the folder that
    holds ``<name>/`` is named by the environment variable ``KERASSEG_DATA``, and nothing else is looked in.
    """
    folder = os.environ.get(DATA_ENV)
    if not folder:
        raise FileNotFoundError(
            f"no {name} folder given: pass data_dir=<path of the {name} folder> (--data-dir), or set {DATA_ENV} "
            f"to the folder that holds {name}/"
        )
    root = Path(folder).expanduser() / name
    if not root.is_dir():
        raise FileNotFoundError(
            f"no {name} folder {root} ({DATA_ENV}={folder}); pass data_dir=<path of the {name} folder> (--data-dir), "
            f"or set {DATA_ENV} to the folder that holds {name}/"
        )
    return root.resolve()


@dataclass
class FileSource:
    """A split made of files: its pairs, the mapping of mask values to classes, and the problems found so far."""

    pairs: list[Pair]
    mapping: LabelMapping
    problems: list[str]

    def raise_problems(self) -> None:
        """Raises the first problem found while listing the split (``check_dataset`` reports them all)."""
        if self.problems:
            more = f" (and {len(self.problems) - 1} more problems; run `kerasseg check-data`)"
            raise ValueError(self.problems[0] + (more if len(self.problems) > 1 else ""))


def files_dataset(pairs: Sequence[Pair], mapping: LabelMapping) -> tf.data.Dataset:
    """``tf.data`` of ``(image float32 (H, W, 3) in [0, 255], mask int32 (H, W))`` decoded from ``pairs`` in order.

    Files are decoded by PIL in parallel (``tf.numpy_function``); a bad file stops the iteration with a
    ``tf.errors.InvalidArgumentError`` whose message names it (no Python trace: the reader's error is passed
    as a string to an assertion), which :func:`file_errors` turns back into a ``ValueError``.
    """

    def read(image_path: bytes, mask_path: bytes):
        try:
            image, mask = read_pair(image_path.decode(), mask_path.decode(), mapping)
        except (ValueError, FileNotFoundError) as err:
            return np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.int32), str(err).encode()
        return image, mask, b""

    def decode(image_path, mask_path):
        image, mask, problem = tf.numpy_function(
            read, [image_path, mask_path], [tf.uint8, tf.int32, tf.string], stateful=False
        )
        with tf.control_dependencies([tf.debugging.Assert(tf.equal(problem, ""), [problem])]):
            image, mask = tf.identity(image), tf.identity(mask)
        image.set_shape([None, None, 3])
        mask.set_shape([None, None])
        return tf.cast(image, tf.float32), mask

    source = tf.data.Dataset.from_tensor_slices(
        (np.array([str(p) for p, _ in pairs]), np.array([str(m) for _, m in pairs]))
    )
    ds = source.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    register_lazy_source(ds, source, decode, len(pairs))
    return ds


@contextlib.contextmanager
def file_errors():
    """Turns the error a bad file raises inside a ``tf.data`` pipeline (a TensorFlow trace that carries the
    reader's message) back into that message: ``ValueError("cannot decode mask data/x.png: ...")``."""
    try:
        yield
    except tf.errors.OpError as err:
        found = re.search(r"assertion failed: \[(.+)\]", err.message)
        if found is None:
            raise
        raise ValueError(found.group(1).strip().replace("] [", " ")) from None  # the assertion's parts, joined
