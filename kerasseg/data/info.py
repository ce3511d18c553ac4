"""What a dataset is: ``DatasetInfo`` (classes, names, palette, weights, license) and the label conventions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IGNORE_LABEL = 255


@dataclass
class DatasetInfo:
    """Facts about one dataset split, returned by ``load_dataset`` beside the ``tf.data.Dataset``.

    ``palette`` is a ``(num_classes, 3)`` uint8 array: the colour of each class in colour-coded masks.
    ``class_weights`` (one float per class, or None) are the loss weights the dataset's paper used.
    """

    name: str
    num_classes: int
    class_names: list[str]
    ignore_label: int = IGNORE_LABEL
    palette: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    class_weights: np.ndarray | None = None
    num_examples: int | None = None
    license: str = ""

    def __post_init__(self):
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"dataset {self.name!r}: {len(self.class_names)} class names for {self.num_classes} classes"
            )
        self.palette = np.asarray(self.palette, np.uint8)
        if self.palette.size == 0:
            self.palette = voc_palette(self.num_classes)
        if self.palette.shape != (self.num_classes, 3):
            raise ValueError(
                f"dataset {self.name!r}: palette has shape {self.palette.shape}, expected ({self.num_classes}, 3)"
            )
        if self.class_weights is not None:
            self.class_weights = np.asarray(self.class_weights, np.float32)
            if self.class_weights.shape != (self.num_classes,):
                raise ValueError(
                    f"dataset {self.name!r}: class_weights has shape {self.class_weights.shape}, "
                    f"expected ({self.num_classes},)"
                )


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: class ``c``'s colour spreads the bits of ``c`` over the high bits of R, G, B.

    Returns an ``(n, 3)`` uint8 array; index 0 is black, 1 is (128, 0, 0), 255 (the boundary) is (224, 224, 192).
    """
    palette = np.zeros((n, 3), np.uint8)
    for index in range(n):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[index] = (r, g, b)
    return palette


def colorize(mask: np.ndarray, palette: np.ndarray, ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    """Colour-codes an int mask ``(H, W)`` with ``palette`` ``(classes, 3)``; ignored pixels become white."""
    mask = np.asarray(mask)
    table = np.full((max(256, int(mask.max(initial=0)) + 1), 3), 255, np.uint8)
    table[: len(palette)] = palette
    table[ignore_label] = (255, 255, 255)
    return table[mask]
