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
from PIL import Image, ImageOps

from kerasseg.data.info import IGNORE_LABEL

# What Pillow decodes and the image readers here accept; masks are lossless only.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")
_INDEX_MODES = ("P", "L", "I", "I;16", "1")
_EXIF_ORIENTATION = 0x0112
# EXIF orientations that show the stored pixels rotated by a quarter turn (their height and width swapped)
_QUARTER_TURNS = (5, 6, 7, 8)


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


def dangling_link(path, what: str) -> str:
    return f"{what} {path} is a symbolic link to {Path(path).readlink()}, which does not exist"


def open_image(path: str | Path, what: str = "image") -> Image.Image:
    """Opens ``path`` with PIL (header only); unreadable files raise ``ValueError`` naming the file."""
    try:
        image = Image.open(path)
        image.size  # noqa: B018 - the header must parse
    except FileNotFoundError:
        if Path(path).is_symlink():
            raise FileNotFoundError(dangling_link(path, what)) from None
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
    if folder.is_file():
        raise ValueError(f"{folder} is a file; give the folder of images it is in")
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise ValueError(
                f"images {stems[path.stem].name} and {path.name} in {folder} have the same name {path.stem!r}: "
                "their outputs (masks/<name>.png) would overwrite each other; rename or remove one"
            )
        stems[path.stem] = path
    return files


def orientation(image: Image.Image) -> int:
    """The EXIF orientation of an opened image (1, as stored, when it has none)."""
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block is no orientation
        return 1


def shown_size(image: Image.Image) -> tuple[int, int]:
    """(height, width) of an image as viewers show it: after its EXIF orientation (header only)."""
    w, h = image.size
    return (w, h) if orientation(image) in _QUARTER_TURNS else (h, w)


def _as_shown(image: Image.Image) -> Image.Image:
    """The decoded image turned by its EXIF orientation, as viewers (and annotation tools) show it."""
    return ImageOps.exif_transpose(image) if orientation(image) != 1 else image


def rgb_pixels(image: Image.Image, path) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` of a decoded image at its true bit depth: 16-bit images are scaled to 8 bits
    (``v / 257``), not clipped to white; grayscale and palette images are expanded to 3 channels."""
    if image.mode.startswith("I"):  # 16-bit (I;16*) or 32-bit integer (I, how some readers give 16-bit) gray
        values = np.asarray(image, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(
                f"image {path} has {image.mode} pixel values in [{values.min()}, {values.max()}], beyond 16 bits; "
                "save it as an 8- or 16-bit image"
            )
        gray = np.rint(values / 257.0).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode == "F":
        raise ValueError(f"image {path} has 32-bit float pixels (mode F); save it as an 8- or 16-bit image")
    return np.array(image.convert("RGB"))


def read_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as uint8 RGB ``(H, W, 3)``, turned by its EXIF orientation (as shown), 16-bit
    scaled to 8; grayscale and palette images are expanded to 3 channels."""
    return rgb_pixels(_as_shown(_decoded(open_image(path), path, "image")), path)


def read_pair(
    image_path: str | Path, mask_path: str | Path, mapping: LabelMapping
) -> tuple[np.ndarray, np.ndarray]:
    """One example: image uint8 ``(H, W, 3)`` and mask int32 ``(H, W)`` of class ids or the ignore label, both
    turned by their own EXIF orientation (as viewers show them).

    Raises ``ValueError`` naming the file for an unreadable image or mask, a size mismatch or bad labels.
    """
    image = _decoded(open_image(image_path), image_path, "image")
    mask = _decoded(open_image(mask_path, "mask"), mask_path, "mask")
    check_same_size(image, mask, image_path, mask_path)
    return rgb_pixels(_as_shown(image), image_path), mapping(_as_shown(mask), mask_path)


def check_same_size(image: Image.Image, mask: Image.Image, image_path, mask_path) -> None:
    """Refuses an image and a mask of different sizes as shown; when an EXIF orientation is involved, says so."""
    if shown_size(image) == shown_size(mask):
        return
    turned = [(what, p, orientation(i)) for what, p, i in (("image", image_path, image), ("mask", mask_path, mask))
              if orientation(i) != 1]
    note = "".join(
        f"; {what} {p} has EXIF orientation {o} ({'turned a quarter' if o in _QUARTER_TURNS else 'mirrored or turned'}"
        " as viewers show it, which kerasseg applies)" for what, p, o in turned
    )
    hint = ": draw the mask on the image as shown, or remove the orientation tag" if turned else ""
    raise ValueError(
        f"mask {mask_path} has shape {shown_size(mask)}, image {image_path} has shape {shown_size(image)}{note}{hint}"
    )


def check_sizes(image_path: str | Path, mask_path: str | Path) -> None:
    """Header-only check that both files open and have the same height and width as shown (fast: nothing is
    decoded)."""
    with open_image(image_path) as image, open_image(mask_path, "mask") as mask:
        check_same_size(image, mask, image_path, mask_path)
