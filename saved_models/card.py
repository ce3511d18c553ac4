"""``render_card(summary, notes)``: the CARD.md of a zoo entry from the summary ``make_entry.py`` measured.

The card ends with the summary itself as a fenced JSON block, which ``kerasseg.zoo.card(name)`` reads back.
"""

from __future__ import annotations

import json

FORMATS = ("keras", "int8", "fp16", "onnx")
HEADERS = {"keras": "Keras", "int8": "TFLite int8", "fp16": "TFLite fp16", "onnx": "ONNX"}
FILE_OF = {"keras": "model.keras", "int8": "model_int8.tflite", "fp16": "model_fp16.tflite", "onnx": "model.onnx"}
METRIC_NAMES = {
    "miou": "mIoU",
    "class_accuracy": "class avg. accuracy",
    "global_accuracy": "global accuracy",
    "pixel_error": "pixel error",
    "foreground_iou": "foreground (cell) IoU",
}


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _duration(seconds) -> str:
    if seconds is None:
        return "not recorded"
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def score_table(scores: dict, metrics, headline) -> list[str]:
    lines = [_row(["class IoU (%)", *(HEADERS[f] for f in FORMATS)]), _row(["---"] + ["---:"] * len(FORMATS))]
    for name in scores["keras"]["iou"]:
        lines.append(_row([name, *(_pct(scores[f]["iou"][name]) for f in FORMATS)]))
    for metric in metrics:
        mark = "**" if metric in headline else ""
        cells = (f"{mark}{_pct(scores[f][metric])}{mark}" for f in FORMATS)
        lines.append(_row([f"{mark}{METRIC_NAMES[metric]}{mark}", *cells]))
    return lines


def test_section(test: dict | None) -> list[str]:
    """The held-out test figures, when they were measured (outside this project's machines: ``test["source"]``)."""
    if not test:
        return []
    metrics = ("miou", "global_accuracy", "class_accuracy")
    lines = [f"## Test scores: {test['split']}", "", test["source"], "",
             _row(["file", *(METRIC_NAMES[m] for m in metrics)]), _row(["---"] + ["---:"] * len(metrics))]
    lines += [_row([FILE_OF[f], *(f"{test[f][m]:.2f}" for m in metrics)]) for f in FORMATS if f in test]
    per_class = ", ".join(f"{name} {value:.1f}" for name, value in test["keras_iou"].items())
    return [*lines, "", f"Per class (Keras, IoU %): {per_class}.", ""]


def render_card(s: dict, notes: str = "") -> str:
    t = s["training"]
    h, w = s["input_size"]
    metrics = [*s["check_metrics"]]
    metrics += [m for m in ("miou", "class_accuracy", "global_accuracy") if m not in metrics]
    lines = [
        f"# {s['name']}",
        "",
        f"`{s['model']}` ({s['params']:,} parameters), {len(s['classes'])} classes, trained with kerasseg on "
        f"{s['dataset_title']}.",
        "",
        "```python",
        "import kerasseg",
        f'model = kerasseg.load("{s["name"]}")   # RGB [0, 255] of any size -> logits (batch, H, W, classes)',
        "```",
        "",
        "## Data and license",
        "",
        f"- Data: {s['dataset_title']}.",
        f"- License of the data, and so of these weights: {s['license']}.",
        "",
        "## Training",
        "",
        "```",
        t["command"],
        "```",
        "",
        f"- {t['epochs']} epoch{'s' if t['epochs'] != 1 else ''}, wall time {_duration(t['wall_time_s'])} on the project machine (2 CPU cores, "
        "shared with other jobs).",
        f"- Shipped checkpoint: `{t['checkpoint']}.keras`, epoch {t['checkpoint_epoch']} (val mIoU during "
        f"training {_pct(t['checkpoint_val_miou'])}).",
        "- Val mIoU by epoch: " + (", ".join(f"{100 * v:.1f}" for v in t["val_miou_history"]) or "not measured")
        + ".",
        "",
        f"## Validation scores: all {s['val_images']} val images, {h}×{w}, single scale",
        "",
        *([f"Trained on `{t['train_split']}`: the val images were training images, so these scores are **not "
           "held out** and overstate what unseen images get; see the notes for the held-out figures of the "
           "recipe.", ""] if "val" in t.get("train_split", "train").split("+") else []),
        *score_table(s["scores"], metrics, s["check_metrics"]),
        "",
        *test_section(s.get("test")),
        f"## Check figure: first {s['check_images']} val images",
        "",
        "`tests/test_zoo.py` reproduces these with the Keras model and the int8 export.",
        "",
        _row(["metric (%)", *(HEADERS[f] for f in FORMATS)]),
        _row(["---"] + ["---:"] * len(FORMATS)),
        *(_row([METRIC_NAMES[m], *(_pct(s["check"][f][m]) for f in FORMATS)]) for m in s["check_metrics"]),
        "",
        "## Files",
        "",
        _row(["file", "size", "input", "agreement with Keras (all val images)", "criterion"]),
        _row(["---", "---:", "---", "---", "---"]),
    ]
    for fmt in FORMATS:
        size = s["files"][FILE_OF[fmt]] / 1e6
        if fmt == "keras":
            lines.append(_row([FILE_OF[fmt], f"{size:.2f} MB", "(batch, H, W, 3) float, any size", "–", "–"]))
            continue
        p = s["parity"][fmt]
        kind = "uint8 pixels" if fmt == "int8" else "float32"
        lines.append(_row([
            FILE_OF[fmt], f"{size:.2f} MB", f"(1, {h}, {w}, 3) {kind}",
            f"argmax {100 * p['argmax_agreement']:.2f}%, max abs Δlogits {p['max_abs_diff']:.3g} "
            f"(relative {p['relative_max_abs_diff']:.2g})",
            f"{s['criteria'][fmt]}: {'pass' if p['passed'] else 'FAIL'}",
        ]))
    lines += [
        _row(["labels.txt", f"{s['files']['labels.txt']} B", "one class name per line", "", ""]),
        "",
        f"Total {sum(s['files'].values()) / 1e6:.1f} MB without this card. TFLite files use builtin ops only "
        f"(int8: {', '.join(s['ops']['int8'])}) and carry MediaPipe ImageSegmenter metadata with the label map; "
        f"int8 is calibrated on {s['calibration_images']} train images. Output: float32 logits at the input size.",
        "",
        f"## Latency: batch 1, {h}×{w}, 2 threads, median of {s['latency_runs']} calls",
        "",
        _row(["runtime", "median ms"]),
        _row(["---", "---:"]),
        *(_row([HEADERS[f] + (" (tf.function)" if f == "keras" else ""), f"{s['latency_ms'][f]:.1f}"])
          for f in FORMATS),
        "",
        f"Measured while the machine's load average was {s['latency_load_average']} (other jobs running): "
        "compare ratios from `benchmarks/zoo.py`, which times every model and the peers in one run.",
        "",
    ]
    if notes.strip():
        lines += ["## Notes", "", notes.strip(), ""]
    lines += [
        "## How this card was made",
        "",
        "```",
        s["made_with"],
        "```",
        "",
        "## Summary (machine-readable; `kerasseg.zoo.card(name)`)",
        "",
        "```json",
        json.dumps(s, indent=1, ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(lines)
