"""Turns a finished training run into a zoo entry: model.keras, int8 / fp16 TFLite, ONNX, labels.txt, CARD.md.

    python saved_models/make_entry.py --run /tmp/zoo/camvid-mobile --name camvid-mobile --data camvid \
        --command "kerasseg train --model deeplabv3plus ..." --train-log /tmp/zoo/camvid-mobile.log

The run folder is the one ``kerasseg train`` (``kerasseg.training.train``) writes: ``best.keras`` / ``best.json``,
``last.keras``, ``log.csv`` (and ``train_info.json`` from ``saved_models/train_isbi_unet.py``). Steps:

1. the chosen checkpoint (``--checkpoint best|last``) is loaded with ``safe_mode`` and saved without its optimizer;
2. exports at the dataset's full image size (CamVid 360×480, ISBI 512×512) with ``kerasseg.export``: int8
   (uint8 pixels in, calibrated on every k-th train image) and fp16 TFLite, both with MediaPipe metadata and
   the label map, and ONNX; an any-size model pads inside to its input multiple and crops the logits back, so
   an export computes exactly what the Keras model computes on the full frame;
3. Keras and every export are scored on the whole val split (one confusion matrix per format, as
   ``kerasseg.evaluation.evaluate`` at single scale; checked against it on the first images) and on its
   first ``--check-images`` images, the figure ``tests/test_zoo.py`` reproduces;
4. latency (batch 1, 2 threads, median, ``kerasseg.export.profile``), sizes, and the card. The entry is built
   in a temporary folder and renamed into place.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from card import render_card  # noqa: E402

from kerasseg.zoo import write_index  # noqa: E402

ZOO = Path(__file__).resolve().parent
EXPORTS = ("int8", "fp16", "onnx")
# Metrics the test reproduces on the first images, per dataset (ISBI: the U-Net paper's pixel error and the IoU
# of the foreground class, cell).
CHECK_METRICS = {"camvid": ("miou",), "isbi2012": ("pixel_error", "foreground_iou")}
DATASET_FACTS = {
    "camvid": {
        "title": "CamVid (SegNet split: 367 train, 101 val at 360×480; 11 classes, Unlabelled ignored)",
        "license": "Creative Commons BY-NC 4.0 (personal and research use only); Brostow et al. 2009",
    },
    "isbi2012": {
        "title": "ISBI 2012 EM segmentation (30 labelled 512×512 slices: 0–24 train, 25–29 val; membrane / cell)",
        "license": "ISBI 2012 challenge terms: research use, cite Arganda-Carreras et al. 2015",
    },
}


def scores_dict(confusion: np.ndarray, names: list[str]) -> dict:
    """Scores of a confusion matrix: ``SegmentationScores.to_dict()`` plus pixel error and foreground IoU."""
    from kerasseg.metrics import SegmentationScores

    scores = SegmentationScores(confusion, tuple(names))
    out = scores.to_dict()
    out["pixel_error"] = round(1.0 - scores.global_accuracy, 6)
    if scores.num_classes == 2:
        out["foreground_iou"] = round(float(scores.iou[1]), 6)
    return out


def export_all(model, folder: Path, size, calibration: np.ndarray, names: list[str]) -> dict[str, Path]:
    from kerasseg.export import to_onnx, to_tflite

    paths = {fmt: folder / f"model_{fmt}.tflite" for fmt in ("int8", "fp16")}
    to_tflite(model, str(paths["int8"]), "int8", calibration, size, labels=names)
    to_tflite(model, str(paths["fp16"]), "float16", None, size, labels=names)
    paths["onnx"] = folder / "model.onnx"
    to_onnx(model, str(paths["onnx"]), input_size=size, batch=1)
    return paths


def runners(model, paths: dict[str, Path]) -> dict:
    """``images -> logits`` for Keras and each export."""
    from kerasseg.evaluation import model_logits
    from kerasseg.export import run_onnx, run_tflite

    out = {"keras": lambda x: model_logits(model, x)}
    for fmt, path in paths.items():
        run = run_onnx if fmt == "onnx" else run_tflite
        out[fmt] = lambda x, run=run, path=str(path): run(path, x)
    return out


def score_formats(run: dict, dataset, classes: int) -> tuple[dict, dict]:
    """Per-format list of per-image confusion matrices, and parity of each export with Keras over the images."""
    from kerasseg.metrics import confusion_matrix

    confusions = {fmt: [] for fmt in run}
    parity = {fmt: {"max_abs_diff": 0.0, "logit_range": 0.0, "agree": 0, "pixels": 0} for fmt in run if fmt != "keras"}
    for images, masks in dataset.as_numpy_iterator():
        logits = {fmt: fn(images) for fmt, fn in run.items()}
        reference = logits["keras"].argmax(-1)
        for fmt, value in logits.items():
            predicted = value.argmax(-1)
            confusions[fmt] += [confusion_matrix(m, p, classes) for m, p in zip(masks, predicted, strict=True)]
            if fmt != "keras":
                p = parity[fmt]
                p["max_abs_diff"] = max(p["max_abs_diff"], float(np.abs(value - logits["keras"]).max()))
                p["logit_range"] = max(p["logit_range"], float(np.ptp(logits["keras"])))
                p["agree"] += int((predicted == reference).sum())
                p["pixels"] += predicted.size
    return confusions, parity


def criterion(fmt: str) -> str:
    """The pass criterion of ``kerasseg.export.parity`` for an export format, in words."""
    from kerasseg.export.parity import MIN_AGREEMENT, RELATIVE_TOLERANCE

    if fmt == "int8":
        return f"argmax agreement ≥ {MIN_AGREEMENT['int8']:.0%}"
    return f"max abs Δlogits / logit range ≤ {RELATIVE_TOLERANCE['float16' if fmt == 'fp16' else fmt]:g}"


def parity_summary(fmt: str, p: dict) -> dict:
    """Largest logit difference (absolute and relative to the Keras logits' range), argmax agreement, verdict."""
    from kerasseg.export.parity import MIN_AGREEMENT, RELATIVE_TOLERANCE

    relative = p["max_abs_diff"] / max(p["logit_range"], 1e-12)
    agreement = p["agree"] / p["pixels"]
    if fmt == "int8":
        passed = agreement >= MIN_AGREEMENT["int8"]
    else:
        passed = relative <= RELATIVE_TOLERANCE["float16" if fmt == "fp16" else fmt]
    return {"max_abs_diff": float(f"{p['max_abs_diff']:.4g}"), "relative_max_abs_diff": float(f"{relative:.4g}"),
            "argmax_agreement": round(agreement, 6), "passed": bool(passed)}


def onnx_latency(path: Path, runs: int, warmup: int = 3) -> dict:
    from kerasseg.export.onnx import onnx_session

    session = onnx_session(str(path), 2)
    inp = session.get_inputs()[0]
    x = np.random.default_rng(0).uniform(0, 255, inp.shape).astype("float32")
    for _ in range(warmup):
        session.run(None, {inp.name: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {inp.name: x})
        times.append(1000 * (time.perf_counter() - start))
    return {"median_ms": float(np.median(times)), "runs": runs}


def training_record(run: Path, checkpoint: str, command: str | None, train_log: str | None) -> dict:
    """Command, epochs, chosen epoch, wall time and the val mIoU history of the run."""
    info = json.loads((run / "train_info.json").read_text()) if (run / "train_info.json").exists() else {}
    command = command or info.get("command")
    if not command:
        raise ValueError(f"{run} has no train_info.json: pass --command with the exact training command")
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{run / 'log.csv'} has no epochs")
    wall = info.get("wall_time_s")
    if wall is None and train_log:
        found = re.findall(r"wall time (\d+) min ([\d.]+) s", Path(train_log).read_text(errors="replace"))
        if not found:
            raise ValueError(f"no 'wall time N min S s' line in {train_log}")
        wall = 60 * int(found[-1][0]) + float(found[-1][1])
    monitor = "val_miou" if "val_miou" in rows[0] else "val_logits_miou"
    history = [round(float(r[monitor]), 4) for r in rows if r.get(monitor) not in (None, "", "NA")]
    if checkpoint == "best":
        best = json.loads((run / "best.json").read_text())
        epoch, value = best["epoch"], best[monitor]
    else:
        epoch, value = len(rows), history[-1] if history else None
    config = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    return {"command": command, "epochs": len(rows), "checkpoint": checkpoint, "checkpoint_epoch": epoch,
            "checkpoint_val_miou": value, "wall_time_s": wall, "val_miou_history": history,
            "train_split": config.get("config", {}).get("train_split", "train")}


def calibration_images(data: str, size, count: int, data_dir) -> np.ndarray:
    """``count`` train images spread evenly over the split (every k-th), resized to ``size``."""
    from kerasseg.data import load_dataset
    from kerasseg.evaluation.inference import resize

    raw, info = load_dataset(data, "train", data_dir)
    step = max(1, info.num_examples // count)
    images = [resize(image, size) for i, (image, _) in enumerate(raw) if i % step == 0]
    return np.stack(images[:count])


def make_entry(args) -> Path:
    import keras

    from kerasseg.data import load_dataset, make_eval_pipeline
    from kerasseg.evaluation import evaluate, load_model
    from kerasseg.export import tflite_ops
    from kerasseg.export.profile import keras_latency, litert_latency
    from kerasseg.models import inference_model

    run = Path(args.run)
    checkpoint = run / f"{args.checkpoint}.keras"
    record = training_record(run, args.checkpoint, args.command, args.train_log)
    model = inference_model(load_model(checkpoint))
    classes = int(model.output_shape[-1])
    val_raw, info = load_dataset(args.data, "val", args.data_dir)
    names = list(info.class_names)
    if len(names) != classes:
        raise ValueError(f"{checkpoint} predicts {classes} classes, {args.data} has {len(names)}")
    first_image = next(iter(val_raw))[0]
    size = tuple(args.input_size or first_image.shape[:2])
    # scored at the deployment size: val images resized (bilinear) and masks (nearest) when it is not theirs
    eval_size = None if size == tuple(first_image.shape[:2]) else size

    zoo = Path(args.zoo)
    zoo.mkdir(parents=True, exist_ok=True)
    final = zoo / args.name
    work = Path(tempfile.mkdtemp(prefix=f".{args.name}.", dir=zoo))
    work.chmod(0o755)  # mkdtemp makes it private
    try:
        # saved uncompiled: no optimizer state in the zoo
        uncompiled = keras.models.load_model(checkpoint, compile=False, safe_mode=True)
        uncompiled.save(work / "model.keras")
        (work / "labels.txt").write_text("\n".join(names) + "\n")
        calibration = calibration_images(args.data, size, args.calibration_images, args.data_dir)
        print(f"exporting at {size[0]}x{size[1]} (int8 calibrated on {len(calibration)} train images)", flush=True)
        paths = export_all(model, work, size, calibration, names)

        print("scoring Keras and the exports on the val split", flush=True)
        run_fns = runners(model, paths)
        confusions, parity = score_formats(run_fns, make_eval_pipeline(val_raw, batch_size=4, size=eval_size), classes)
        n = args.check_images
        check_scores = evaluate(model, make_eval_pipeline(val_raw.take(n), size=eval_size), classes)
        if not np.array_equal(check_scores.confusion, sum(confusions["keras"][:n])):
            raise RuntimeError("the per-image scoring disagrees with kerasseg.evaluation.evaluate on Keras")
        scores = {fmt: scores_dict(sum(c), names) for fmt, c in confusions.items()}
        check = {fmt: scores_dict(sum(c[:n]), names) for fmt, c in confusions.items()}
        parity = {fmt: parity_summary(fmt, p) for fmt, p in parity.items()}
        failed = [fmt for fmt, p in parity.items() if not p["passed"]]
        if failed:  # a failed check never replaces a good entry: the temporary folder is removed below
            raise RuntimeError(f"{', '.join(failed)} failed the parity check ({parity}); {final} was left as it was")
        metrics = CHECK_METRICS.get(args.data, ("miou",))

        print("measuring latency", flush=True)
        load = os.getloadavg()[0]
        latency = {"keras": keras_latency(model, size, args.runs)["median_ms"]}
        for fmt in ("int8", "fp16"):
            latency[fmt] = litert_latency(str(paths[fmt]), 2, args.runs)["median_ms"]
        latency["onnx"] = onnx_latency(paths["onnx"], args.runs)["median_ms"]
        files = {p.name: p.stat().st_size for p in sorted(work.iterdir())}
        summary = {
            "name": args.name,
            "dataset": args.data,
            "split": "val",
            "val_images": int(sum(1 for _ in confusions["keras"])),
            "input_size": list(size),
            "model": model.name,
            "params": int(model.count_params()),
            "classes": names,
            "training": record,
            "check_images": n,
            "check_metrics": list(metrics),
            "check": {fmt: {m: check[fmt][m] for m in metrics} for fmt in check},
            "scores": scores,
            "parity": parity,
            "criteria": {fmt: criterion(fmt) for fmt in EXPORTS},
            "ops": {fmt: tflite_ops(str(paths[fmt])) for fmt in ("int8", "fp16")},
            "latency_ms": {k: round(v, 2) for k, v in latency.items()},
            "latency_load_average": round(load, 2),
            "latency_runs": args.runs,
            "files": files,
            "dataset_title": DATASET_FACTS.get(args.data, {}).get("title", args.data),
            "license": DATASET_FACTS.get(args.data, {}).get("license", info.license or "see the dataset"),
            "calibration_images": len(calibration),
            "made_with": " ".join(["python saved_models/make_entry.py", *sys.argv[1:]]),
        }
        notes = Path(args.notes).read_text() if args.notes else ""
        (work / "CARD.md").write_text(render_card(summary, notes))
        _swap_into_place(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _swap_into_place(work: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(work, final)
    shutil.rmtree(old, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the training run folder")
    parser.add_argument("--name", required=True, help="the entry's name, e.g. camvid-mobile")
    parser.add_argument("--data", required=True, choices=sorted(DATASET_FACTS), help="the dataset it was trained on")
    parser.add_argument("--data-dir", default=None, help="the dataset's folder (default $KERASSEG_DATA/<data>)")
    parser.add_argument("--zoo", default=str(ZOO), help="the zoo folder to write into (default: saved_models/)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--command", default=None, help="the exact training command (else train_info.json)")
    parser.add_argument("--train-log", default=None, help="the training's console log, for its wall time")
    parser.add_argument("--notes", default=None, help="a Markdown file appended to the card (limits, deviations)")
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="export size (default: the val images' size)")
    parser.add_argument("--check-images", type=int, default=5)
    parser.add_argument("--calibration-images", type=int, default=32)
    parser.add_argument("--runs", type=int, default=20, help="timed calls per latency figure")
    args = parser.parse_args(argv)
    path = make_entry(args)
    write_index(args.zoo)
    print(f"wrote {path} and {Path(args.zoo) / 'index.json'}")
    print((path / "CARD.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
