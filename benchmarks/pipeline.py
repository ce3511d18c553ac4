"""Throughput of the CamVid training pipeline at 360×480 against the training step it has to feed.

    python benchmarks/pipeline.py [--batch-size 4] [--batches 12] [--steps 2] [--data-dir ../shared/data/camvid]

Prints images/s of ``make_train_pipeline`` (decode + albumentations scale/pad/crop/flip/jitter, batched) and of
``model.train_on_batch`` for a mobile model (DeepLabv3+ MobileNetV2 α 0.5 from the registry, or a MobileNetV2
stand-in when that is not registered), each measured alone on this machine, and their ratio (target >= 3:
the input pipeline must never be what the accelerator waits for). Runs in about a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasseg.data import load_dataset, make_train_pipeline  # noqa: E402

CROP = (360, 480)
CLASSES = 11


def mobile_model() -> tuple[keras.Model, str]:
    """The registry's DeepLabv3+ MobileNetV2 α 0.5, or a keras.applications MobileNetV2 stand-in."""
    try:
        from kerasseg.models import get_model

        model = get_model("deeplabv3plus", classes=CLASSES, backbone="mobilenetv2", alpha=0.5, weights=None)
        return model, "kerasseg deeplabv3plus (MobileNetV2 alpha 0.5, output stride 16)"
    except (ImportError, ValueError, TypeError) as err:
        inputs = keras.Input((*CROP, 3))
        backbone = keras.applications.MobileNetV2(
            input_tensor=inputs, alpha=0.5, include_top=False, weights=None
        )
        logits = keras.layers.Conv2D(CLASSES, 1)(backbone.output)
        logits = keras.layers.Resizing(*CROP, interpolation="bilinear")(logits)
        model = keras.Model(inputs, logits)
        return model, f"stand-in: keras.applications MobileNetV2 alpha 0.5 + 1x1 head ({err})"


def pipeline_images_per_second(data_dir: str | None, batch_size: int, batches: int) -> float:
    ds, _ = load_dataset("camvid", "train", data_dir)
    pipeline = make_train_pipeline(ds, batch_size, crop_size=CROP, seed=0)
    iterator = iter(pipeline)
    next(iterator)  # start the threads and fill the prefetch buffer
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def train_step_images_per_second(batch_size: int, steps: int) -> tuple[float, str]:
    model, description = mobile_model()
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch_size, *CROP, 3)).astype(np.float32)
    masks = rng.integers(0, CLASSES, (batch_size, *CROP)).astype(np.int32)
    model.train_on_batch(images, masks)  # trace and compile
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, masks)
    return steps * batch_size / (time.perf_counter() - start), description


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--batches", type=int, default=12, help="timed pipeline batches")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps")
    parser.add_argument(
        "--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid"),
        help="CamVid folder (default <repo>/../shared/data/camvid)"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    pipeline = pipeline_images_per_second(args.data_dir, args.batch_size, args.batches)
    step, description = train_step_images_per_second(args.batch_size, args.steps)
    elapsed = time.perf_counter() - start
    print(
        f"machine: {os.cpu_count()} CPU cores, keras {keras.__version__}, backend {keras.backend.backend()}"
    )
    print(f"CamVid train, crop {CROP[0]}x{CROP[1]}, batch {args.batch_size}")
    print(f"pipeline (decode + scale 0.5-2 / pad / crop / flip / jitter): {pipeline:8.1f} images/s")
    print(f"train_on_batch, {description}: {step:8.1f} images/s")
    print(f"pipeline / step: {pipeline / step:.1f}x (target >= 3x); benchmark took {elapsed:.0f} s")


if __name__ == "__main__":
    main()
