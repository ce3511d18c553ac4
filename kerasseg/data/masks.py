"""Reading one image/mask pair from files, and mapping mask values to class ids, with errors that name the file.

Masks may be palette PNGs (the palette index is the value, as in PASCAL VOC), index PNGs (mode L, I, I;16, 1)
or RGB colour masks (which need a colour → class map). A ``LabelMapping`` turns values into class ids in
``[0, num_classes)`` or the ignore label, and rejects anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from kerasseg.data.info import IGNORE_LABEL

# What Pillow decodes and the image readers here accept; masks are lossless only.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")
_INDEX_MODES = ("P", "L", "I", "I;16", "1")


@dataclass(frozen=True)
class LabelMapping:
    """Mask value → class id, for index masks (``{value: class}``) or colour masks (``{(r, g, b): class}``).

    Index values missing from ``class_map`` are taken as class ids themselves. Every resulting label must be in
    ``[0, num_classes)`` or ``ignore_label``; colour masks need every colour to be in ``class_map``.
    """

    num_classes: int
    class_map: Mapping = field(default_factory=dict)
    ignore_label: int = IGNORE_LABEL

    def __post_init__(self):
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        for key, value in self.class_map.items():
            if not isinstance(key, (int, np.integer, tuple)):
                raise ValueError(
                    f"class_map key {key!r} is neither a mask value (int) nor an (r, g, b) colour"
                )
            if not (0 <= value < self.num_classes or value == self.ignore_label):
                raise ValueError(
                    f"class_map sends {key!r} to {value}, outside [0, {self.num_classes}) and the ignore label "
                    f"{self.ignore_label}"
                )

    @property
    def colour_map(self) -> dict[int, int]:
        """The ``(r, g, b): class`` entries, keyed by the packed colour ``r << 16 | g << 8 | b``."""
        return {(r << 16) | (g << 8) | b: c for (r, g, b), c in self._items(tuple)}

    def _items(self, kind):
        return [(k, v) for k, v in self.class_map.items() if isinstance(k, kind)]

    def index_labels(self, values: np.ndarray, path: str | Path) -> np.ndarray:
        """Maps an index mask ``(H, W)`` (ints) to int32 class ids; bad labels raise ``ValueError`` naming ``path``."""
        values = np.asarray(values).astype(np.int64)
        if values.size and values.min() < 0:
            raise ValueError(
                f"mask {path} has negative values {sorted(set(values[values < 0].tolist()))[:10]}"
            )
        table = np.arange(max(256, int(values.max(initial=0)) + 1), dtype=np.int64)
        for value, label in self._items((int, np.integer)):
            if value < len(table):
                table[value] = label
        labels = table[values]
        self.validate(labels, path, values)
        return labels.astype(np.int32)

    def colour_labels(self, rgb: np.ndarray, path: str | Path) -> np.ndarray:
        """Maps a colour mask ``(H, W, 3)`` to int32 class ids through the ``(r, g, b): class`` entries."""
        colours = self.colour_map
        if not colours:
            raise ValueError(
                f"mask {path} is an RGB colour mask but no colour → class map was given; pass "
                "class_map={(r, g, b): class, ...} or save the masks as palette or single-channel index PNGs"
            )
        rgb = np.asarray(rgb, np.int64)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        unique, inverse = np.unique(packed, return_inverse=True)
        unknown = [int(u) for u in unique if int(u) not in colours]
        if unknown:
            names = [((u >> 16) & 255, (u >> 8) & 255, u & 255) for u in unknown[:10]]
            raise ValueError(f"mask {path} has colours {names} that are not in the colour → class map")
        return np.array([colours[int(u)] for u in unique], np.int32)[inverse.reshape(packed.shape)]

    def validate(self, labels: np.ndarray, path: str | Path, values: np.ndarray | None = None) -> None:
        """Raises ``ValueError`` naming ``path`` if a label is outside ``[0, num_classes)`` and not ignored."""
        bad = (labels < 0) | ((labels >= self.num_classes) & (labels != self.ignore_label))
        if bad.any():
            source = labels if values is None else values
            found, counts = np.unique(source[bad], return_counts=True)
            listed = ", ".join(f"{v} ({n} pixels)" for v, n in zip(found[:10].tolist(), counts[:10].tolist(), strict=True))
            raise ValueError(
                f"mask {path} has labels outside [0, {self.num_classes}) and the ignore label {self.ignore_label}: "
                f"{listed}; fix the mask, map the values with class_map={{value: class}} or check the class count"
            )

    def __call__(self, mask: Image.Image, path: str | Path) -> np.ndarray:
        """Class ids ``(H, W)`` int32 of a PIL mask of any supported mode."""
        if mask.mode in _INDEX_MODES:
            return self.index_labels(np.array(mask), path)
        if mask.mode in ("RGB", "RGBA"):
            return self.colour_labels(np.array(mask.convert("RGB")), path)
        if mask.mode == "LA":
            return self.index_labels(np.array(mask)[..., 0], path)
        raise ValueError(f"mask {path} has PIL mode {mask.mode!r}; use palette, single-channel or RGB PNGs")


def open_image(path: str | Path, what: str = "image") -> Image.Image:
    """Opens ``path`` with PIL (header only); unreadable files raise ``ValueError`` naming the file."""
    try:
        image = Image.open(path)
        image.size  # noqa: B018 - the header must parse
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except Exception as err:  # PIL raises several types (UnidentifiedImageError, OSError, SyntaxError)
        raise ValueError(f"cannot read {what} {path}: {err}") from None
    return image


def _decoded(image: Image.Image, path, what: str) -> Image.Image:
    try:
        image.load()
    except Exception as err:
        raise ValueError(f"cannot decode {what} {path}: {err}") from None
    return image


def list_images(folder) -> list[Path]:
    """The image files of ``folder`` (:data:`IMAGE_SUFFIXES`), sorted by name; an error when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def read_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as uint8 RGB ``(H, W, 3)``; grayscale and palette images are expanded to 3 channels."""
    image = _decoded(open_image(path), path, "image")
    return np.array(image.convert("RGB"))


def read_pair(
    image_path: str | Path, mask_path: str | Path, mapping: LabelMapping
) -> tuple[np.ndarray, np.ndarray]:
    """One example: image uint8 ``(H, W, 3)`` and mask int32 ``(H, W)`` of class ids or the ignore label.

    Raises ``ValueError`` naming the file for an unreadable image or mask, a size mismatch or bad labels.
    """
    image = _decoded(open_image(image_path), image_path, "image")
    mask = _decoded(open_image(mask_path, "mask"), mask_path, "mask")
    if image.size != mask.size:
        raise ValueError(
            f"mask {mask_path} has shape {mask.size[::-1]}, image {image_path} has shape {image.size[::-1]}"
        )
    return np.array(image.convert("RGB")), mapping(mask, mask_path)


def check_sizes(image_path: str | Path, mask_path: str | Path) -> None:
    """Header-only check that both files open and have the same height and width (fast: nothing is decoded)."""
    with open_image(image_path) as image, open_image(mask_path, "mask") as mask:
        if image.size != mask.size:
            raise ValueError(
                f"mask {mask_path} has shape {mask.size[::-1]}, image {image_path} has shape {image.size[::-1]}"
            )
