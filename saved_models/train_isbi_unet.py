"""Trains the zoo's ``isbi-unet``: a width-reduced U-Net on the 25 ISBI 2012 train slices, with the paper's
elastic deformations, validated on the 5 held-out slices.

    python saved_models/train_isbi_unet.py --out /tmp/zoo/isbi-unet [--epochs 24] [--steps-per-epoch 25]

Reference: Ronneberger, Fischer, Brox, "U-Net", MICCAI 2015, section 3.1: "smooth deformations using random
displacement vectors on a coarse 3 by 3 grid. The displacements are sampled from a Gaussian distribution with 10
pixels standard deviation. Per-pixel displacements are then computed using bicubic interpolation", plus shifts,
rotations and gray-value variations, and dropout at the end of the contracting path.

Deviations, stated on the card: base width 16 (paper 64), "same" padding (output = input size, no overlap-tile),
batch normalization after each convolution, Adam with the poly schedule instead of SGD with momentum 0.99 on
single 572² tiles, unweighted cross-entropy (no border weight map), random 256² crops of the deformed slice
with a random flip / 90° rotation (the slices have no preferred orientation) in place of shifts.

The augmentation wraps ``kerasseg.data.load_dataset`` here, as kerasseg.data has no elastic option. The run
is written by ``kerasseg.training.train`` (log.csv, best.keras, last.keras, resumable backup/) plus
``train_info.json`` (the command and the wall time) for ``saved_models/make_entry.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# The U-Net paper's elastic deformation: a 3×3 grid of Gaussian displacements, 10 pixels standard deviation.
ELASTIC_GRID = 3
ELASTIC_SIGMA = 10.0


def elastic_field(shape: tuple[int, int], rng: np.random.Generator, grid: int = ELASTIC_GRID,
                  sigma: float = ELASTIC_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps (map_x, map_y) for ``cv2.remap``: a ``grid``×``grid`` field of N(0, sigma²) displacements
    (pixels) interpolated bicubically to every pixel, the grid's nodes spanning the image corner to corner."""
    h, w = shape
    coarse = rng.normal(0.0, sigma, (2, grid, grid))
    # Bicubic (natural cubic spline) interpolation, the grid's first and last nodes on the image's corners.
    from scipy.interpolate import CubicSpline

    node = np.arange(grid)
    along_y = CubicSpline(node, coarse, axis=1, bc_type="natural")(np.linspace(0, grid - 1, h))
    dy, dx = CubicSpline(node, along_y, axis=2, bc_type="natural")(np.linspace(0, grid - 1, w))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return (xs + dx).astype(np.float32), (ys + dy).astype(np.float32)


def augment(image: np.ndarray, mask: np.ndarray, seed: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """Elastic deformation (image bilinear, mask nearest, mirrored border), random crop, flip / 90° rotation and a
    gray-value variation (contrast, brightness), all from one seed."""
    rng = np.random.default_rng(int(seed) % (1 << 63))
    map_x, map_y = elastic_field(image.shape[:2], rng)
    h, w = mask.shape
    top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    # Remapping only the crop's window of the maps samples the whole deformed slice: same pixels, 4× less work.
    window = (slice(top, top + crop), slice(left, left + crop))
    map_x, map_y = map_x[window], map_y[window]
    image = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = cv2.remap(mask.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    k = int(rng.integers(0, 4))
    image, mask = np.rot90(image, k), np.rot90(mask, k)
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image = (image - 127.5) * rng.uniform(0.8, 1.2) + 127.5 + rng.uniform(-20, 20)
    return np.clip(image, 0, 255).astype(np.float32), np.ascontiguousarray(mask).astype(np.int32)


def train_pipeline(batch_size: int, crop: int, seed: int, data_dir: str | None = None) -> tf.data.Dataset:
    from kerasseg.data import load_dataset

    raw, _ = load_dataset("isbi2012", "train", data_dir)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = raw.cache().repeat().shuffle(25, seed=seed)

    def apply(example, example_seed):
        image, mask = example
        image, mask = tf.numpy_function(
            lambda i, m, s: augment(i, m, s, crop), [image, mask, example_seed], [tf.float32, tf.int32],
            stateful=False,
        )
        image.set_shape([crop, crop, 3])
        mask.set_shape([crop, crop])
        return image, mask

    ds = tf.data.Dataset.zip(ds, seeds).map(apply, num_parallel_calls=2, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run folder (outside the repository)")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--steps-per-epoch", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--base-filters", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2012"),
                        help="ISBI 2012 folder (default <repo>/../shared/data/isbi2012)")
    args = parser.parse_args(argv)

    import keras

    from kerasseg.data import load_dataset, make_eval_pipeline
    from kerasseg.training import train

    keras.utils.set_random_seed(args.seed)
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    val_raw, info = load_dataset("isbi2012", "val", args.data_dir)
    result = train(
        "unet",
        train_pipeline(args.batch_size, args.crop, args.seed, args.data_dir),
        make_eval_pipeline(val_raw, batch_size=1),
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        num_classes=info.num_classes,
        class_names=info.class_names,
        model_options={"base_filters": args.base_filters, "batch_norm": True},
        optimizer="adam",
        learning_rate=args.lr,
        weight_decay=None,
        class_weights=None,
        out_dir=out,
        tensorboard=False,
        verbose=2,
    )
    previous = json.loads((out / "train_info.json").read_text()) if (out / "train_info.json").exists() else {}
    record = {
        "command": "python " + shlex.join(["saved_models/train_isbi_unet.py", *(argv or sys.argv[1:])]),
        # a resumed run adds the wall time of the killed one
        "wall_time_s": previous.get("wall_time_s", 0.0) + time.time() - start,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": args.batch_size,
        "crop": args.crop,
        "base_filters": args.base_filters,
        "best_epoch": result.best_epoch,
    }
    (out / "train_info.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
