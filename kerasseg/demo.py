"""``kerasseg demo``: the whole path on built-in synthetic data — train, evaluate, export int8 TFLite, picture.

Needs no download: shapes on textured backgrounds are drawn in memory (``kerasseg.data.synthetic``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kerasseg.data.synthetic import CLASS_NAMES, IGNORE_LABEL, make_shapes

SIZE = 64
TRAIN_IMAGES, VAL_IMAGES = 1024, 200
DEFAULT_EPOCHS = 5


def _save_figure(path: Path, images, labels, predictions, palette) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def colour(mask):
        out = np.full((*mask.shape, 3), 255, "uint8")  # ignore pixels white
        valid = mask != IGNORE_LABEL
        out[valid] = palette[mask[valid]]
        return out

    rows = len(images)
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, 2.5 * rows))
    for r in range(rows):
        for c, (title, picture) in enumerate(
            (("image", images[r].astype("uint8")), ("ground truth", colour(labels[r])),
             ("prediction", colour(predictions[r])))
        ):
            axes[r, c].imshow(picture, interpolation="nearest")
            axes[r, c].set_axis_off()
            if r == 0:
                axes[r, c].set_title(title)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)


def run_demo(out: str = "kerasseg-demo", seed: int = 0, epochs: int | None = None) -> dict:
    """Trains a small U-Net on synthetic shapes, prints per-class IoU, exports int8 TFLite; returns the figures."""
    import keras

    from kerasseg.export import run_tflite, to_tflite
    from kerasseg.metrics import SegmentationScores, confusion_matrix
    from kerasseg.models import UNet

    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number in [0, 2**32), got {seed!r}")
    epochs = epochs or DEFAULT_EPOCHS
    out_dir = Path(out).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out {out} is a file; the demo writes a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    start = time.time()

    x_train, y_train = make_shapes(TRAIN_IMAGES, SIZE, seed=seed)
    x_val, y_val = make_shapes(VAL_IMAGES, SIZE, seed=seed + 10_000)
    classes = len(CLASS_NAMES)
    print(f"Synthetic shapes: {TRAIN_IMAGES} train / {VAL_IMAGES} val images of {SIZE}×{SIZE}, classes "
          f"{', '.join(CLASS_NAMES)} (+ {IGNORE_LABEL} = ignore on boundaries)")

    model = UNet(classes=classes, input_shape=(SIZE, SIZE, 3), base_filters=16, depth=3, batch_norm=True,
                 dropout=0.0)
    steps = epochs * TRAIN_IMAGES // 16
    schedule = keras.optimizers.schedules.PolynomialDecay(3e-3, steps, end_learning_rate=1e-4, power=0.9)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_LABEL),
        metrics=[keras.metrics.MeanIoU(classes, sparse_y_pred=False, ignore_class=IGNORE_LABEL, name="miou")],
    )
    print(f"Model: U-Net (base 16 filters, depth 3, batch norm), {model.count_params():,} parameters")
    model.fit(x_train, y_train, batch_size=16, epochs=epochs, shuffle=True, validation_data=(x_val, y_val), verbose=1)
    train_time = time.time() - start

    keras_logits = model.predict(x_val, batch_size=32, verbose=0)
    keras_pred = keras_logits.argmax(-1)
    ious = SegmentationScores(confusion_matrix(y_val, keras_pred, classes)).iou
    print("\nValidation IoU (held-out synthetic split, Keras):")
    for name, iou in zip(CLASS_NAMES, ious, strict=True):
        print(f"  {name:<12} {iou:.3f}")
    print(f"  {'mean IoU':<12} {np.nanmean(ious):.3f}")

    model_path = out_dir / "model.keras"
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".keras", dir=out_dir)
    os.close(fd)
    model.save(tmp)
    os.replace(tmp, model_path)

    tflite_path = out_dir / "model_int8.tflite"
    to_tflite(model, str(tflite_path), "int8", representative_data=x_train[:32], labels=list(CLASS_NAMES))
    lite_pred = run_tflite(str(tflite_path), x_val).argmax(-1)
    agreement = float((lite_pred == keras_pred).mean())
    lite_ious = SegmentationScores(confusion_matrix(y_val, lite_pred, classes)).iou
    size = tflite_path.stat().st_size
    print(f"\nint8 TFLite: {size / 1024:.1f} KiB, pixel agreement with Keras {agreement:.4f}, "
          f"mean IoU {np.nanmean(lite_ious):.3f}")

    palette = np.array([[40, 40, 40], [230, 80, 60], [60, 160, 230], [250, 200, 50]], "uint8")
    figure = out_dir / "predictions.png"
    _save_figure(figure, x_val[:4], y_val[:4], lite_pred[:4], palette)

    results = {
        "seed": seed,
        "epochs": epochs,
        "train_seconds": round(train_time, 1),
        "val_iou": dict(zip(CLASS_NAMES, map(float, ious), strict=True)),
        "val_miou": float(np.nanmean(ious)),
        "int8_miou": float(np.nanmean(lite_ious)),
        "int8_pixel_agreement": agreement,
        "int8_bytes": size,
    }
    summary = out_dir / "results.json"
    tmp = summary.with_name(".results.json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, summary)
    print(f"\nWrote {model_path}\n      {tflite_path}\n      {figure}  (image | ground truth | int8 prediction)\n"
          f"      {summary}\nTotal time {time.time() - start:.0f} s")
    return results
