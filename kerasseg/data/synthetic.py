"""A synthetic segmentation set made in memory: shapes on textured backgrounds (the ``kerasseg demo`` data).

Classes: 0 background, 1 disc, 2 square, 3 triangle. Each class has its own geometry and a colour family (warm,
blue, green; brightness and hue jittered), on a background of colour noise and stripes, so a model must find
flat regions in texture and tell them apart. A 1-pixel band along every shape boundary is labelled 255 (ignore), as
the object boundaries of PASCAL VOC are.
"""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("background", "disc", "square", "triangle")
_CLASS_COLOURS = {1: (220, 90, 60), 2: (60, 110, 220), 3: (70, 190, 80)}
IGNORE_LABEL = 255


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour noise plus stripes at a random angle: texture without shapes."""
    coarse = rng.uniform(0, 255, (size // 8 + 2, size // 8 + 2, 3))
    idx = np.linspace(0, coarse.shape[0] - 1.001, size)
    i0 = idx.astype(int)
    f = (idx - i0)[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i0 + 1] * f[..., None]
    smooth = rows[:, i0] * (1 - f.T[..., None]) + rows[:, i0 + 1] * f.T[..., None]
    yy, xx = np.mgrid[0:size, 0:size]
    angle = rng.uniform(0, np.pi)
    stripes = 30 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * rng.uniform(0.3, 0.8))
    return 0.6 * smooth + stripes[..., None] + 50


def _shape_mask(kind: int, rng: np.random.Generator, size: int, radius=(0.12, 0.24)) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") + 0.5
    r = rng.uniform(size * radius[0], size * radius[1])
    cy, cx = rng.uniform(r, size - r, 2)
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if kind == 2:
        a = r * 0.9
        return (np.abs(yy - cy) <= a) & (np.abs(xx - cx) <= a)
    # An upright or inverted triangle: inside all three half-planes.
    theta = rng.choice([np.pi / 2, -np.pi / 2]) + np.arange(3) * 2 * np.pi / 3
    py, px = cy - r * np.sin(theta) * 1.2, cx + r * np.cos(theta) * 1.2
    inside = np.ones((size, size), bool)
    for i in range(3):
        j = (i + 1) % 3
        cross = (px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
        third = (px[j] - px[i]) * (py[(i + 2) % 3] - py[i]) - (py[j] - py[i]) * (px[(i + 2) % 3] - px[i])
        inside &= np.sign(cross) == np.sign(third)
    return inside


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds more than one label."""
    edge = np.zeros(mask.shape, bool)
    edge[:-1] |= mask[:-1] != mask[1:]
    edge[1:] |= mask[:-1] != mask[1:]
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:, 1:] |= mask[:, :-1] != mask[:, 1:]
    return edge


def make_shapes(
    n: int, size: int = 64, seed: int = 0, shapes=(1, 3), radius=(0.12, 0.24)
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, size, size, 3) float32 in [0, 255] and masks (n, size, size) uint8 with 255 = ignore.

    Each image holds ``shapes[0]``…``shapes[1]`` shapes of radius ``radius`` × size (later ones on top).
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), "float32")
    masks = np.empty((n, size, size), "uint8")
    for i in range(n):
        image = _background(rng, size)
        mask = np.zeros((size, size), "uint8")
        for _ in range(rng.integers(shapes[0], shapes[1] + 1)):
            kind = int(rng.integers(1, len(CLASS_NAMES)))
            inside = _shape_mask(kind, rng, size, radius)
            colour = np.array(_CLASS_COLOURS[kind]) * rng.uniform(0.6, 1.15) + rng.normal(0, 20, 3)
            image[inside] = colour + rng.normal(0, 6, (int(inside.sum()), 3))
            mask[inside] = kind
        label = mask.copy()
        label[_boundary(mask)] = IGNORE_LABEL
        images[i] = np.clip(image + rng.normal(0, 4, image.shape), 0, 255)
        masks[i] = label
    return images, masks
