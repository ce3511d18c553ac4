"""Parity report of an export against its Keras model: logits, argmax agreement, mIoU, size, ops, GPU delegate.

Float exports (float32, float16, ONNX) are judged by the largest absolute logit difference relative to the
Keras logits' range; quantized ones (dynamic, int8) by how many pixels keep the Keras argmax and by the mIoU of
their predictions taken against the Keras predictions (and against real labels when a dataset gives them).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence

import keras
import numpy as np

from kerasseg.evaluation.inference import resize
from kerasseg.export.flatbuffer import tflite_op_list, tflite_quantization
from kerasseg.export.onnx import onnx_session, run_onnx
from kerasseg.export.preparation import PreparedModel, prepare
from kerasseg.export.runner import run_tflite, tflite_input_size
from kerasseg.files import settle_record, sha256, write_atomic
from kerasseg.metrics import IGNORE_LABEL, SegmentationScores, confusion_matrix

# Pass criteria (issue #5): float modes by max |Δlogits| / logit range, quantized modes by argmax agreement.
RELATIVE_TOLERANCE = {"float32": 1e-4, "onnx": 1e-4, "float16": 1e-2}
MIN_AGREEMENT = {"dynamic": 0.95, "int8": 0.95}
BUILTIN_PREFIXES = ("Flex", "CUSTOM")


def export_format(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".tflite", ".onnx"):
        raise ValueError(f"unknown export format {suffix!r} of {path}; valid: .tflite, .onnx")
    return suffix[1:]


def parity_report(model: keras.Model | PreparedModel, path: str, images: np.ndarray, masks: np.ndarray | None = None,
                  *, quantization: str | None = None, class_names: Sequence[str] | None = None,
                  ignore_label: int = IGNORE_LABEL, num_threads: int = 2) -> dict:
    """Compares the export at ``path`` (.tflite or .onnx) with ``model`` on ``images`` (N, H, W, 3) in [0, 255].

    Images (and ``masks`` (N, H, W) int labels, ``ignore_label`` skipped) are resized to the export's input
    size. Returns a JSON-friendly dict: size, ops, GPU-delegate fallbacks, logit differences, argmax agreement,
    mIoU against the Keras predictions (and against ``masks``), and whether the mode's criterion passed.
    ``quantization``: the mode the file was exported in (the keys of ``to_tflite_modes``); without it the mode is
    read from the file's tensor types, which cannot tell a dynamic-range file whose weights all stayed float
    from a float32 one. ``sha256`` ties the report to the file (:func:`read_report`).
    """
    fmt = export_format(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"export {path} does not exist")
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, 3) array, got {images.shape}")
    if fmt == "tflite":
        size = tflite_input_size(path)
    else:
        dims = onnx_session(path, 1).get_inputs()[0].shape[1:3]
        size = tuple(d if isinstance(d, int) else images.shape[1 + i] for i, d in enumerate(dims))
    images = resize(images, size)
    reference = prepare(model, fixed_size=False).reference
    expected = np.asarray(reference.predict(images, batch_size=1, verbose=0), dtype="float32")
    got = (run_tflite if fmt == "tflite" else run_onnx)(path, images, num_threads)
    output_size = list(got.shape[1:3])
    if got.shape[1:3] != expected.shape[1:3]:  # native-resolution export: upsample as the app does
        got = resize(got, expected.shape[1:3])
    if got.shape != expected.shape:
        raise ValueError(f"{path} gives logits {got.shape}, the Keras model {expected.shape}")
    classes = expected.shape[-1]
    mode = "onnx" if fmt == "onnx" else quantization or tflite_quantization(path)

    diff = float(np.abs(got - expected).max())
    logit_range = float(np.ptp(expected))
    keras_labels, export_labels = expected.argmax(-1), got.argmax(-1)
    names = tuple(class_names) if class_names is not None else None

    def miou(truth, predicted, ignore=IGNORE_LABEL):
        value = SegmentationScores(confusion_matrix(truth, predicted, classes, ignore), names).miou
        return None if value != value else float(value)

    report = {
        "path": os.path.abspath(path),
        "format": fmt,
        "quantization": mode,
        "size_bytes": os.path.getsize(path),
        "sha256": sha256(path),
        "input_size": list(size),
        "output_size": output_size,
        "images": len(images),
        "max_abs_diff": diff,
        "logit_range": logit_range,
        "relative_max_abs_diff": diff / max(logit_range, 1e-12),
        "argmax_agreement": float((keras_labels == export_labels).mean()),
        "miou_vs_keras": miou(keras_labels, export_labels),
    }
    if masks is not None:
        masks = resize(np.asarray(masks), size, "nearest")
        report["miou_vs_labels"] = {"keras": miou(masks, keras_labels, ignore_label),
                                    "export": miou(masks, export_labels, ignore_label)}
    report.update(_ops(path, fmt))
    report["criterion"], report["passed"] = _criterion(report)
    return report


def _ops(path: str, fmt: str) -> dict:
    if fmt == "onnx":
        import onnx

        counts = Counter(node.op_type for node in onnx.load(path).graph.node)
        return {"ops": dict(sorted(counts.items())), "builtin_only": True, "gpu_delegate_unsupported": None,
                "float_ops": None, "size_breakdown": None}
    from kerasseg.export.flatbuffer import tflite_size_breakdown
    from kerasseg.export.gpu import gpu_unsupported

    op_list = tflite_op_list(path)
    counts = Counter(op["op"] for op in op_list)
    # In an int8 export every op but the final DEQUANTIZE should compute in int8: a float op is a fallback.
    fallbacks = Counter(
        op["op"] for op in op_list if op["op"] != "DEQUANTIZE" and any(t["type"] == "FLOAT32" for t in op["outputs"])
    )
    return {
        "ops": dict(sorted(counts.items())),
        "builtin_only": not any(op.startswith(BUILTIN_PREFIXES) for op in counts),
        "gpu_delegate_unsupported": gpu_unsupported(path),
        "float_ops": dict(sorted(fallbacks.items())),
        "size_breakdown": tflite_size_breakdown(path),
    }


def _criterion(report: dict) -> tuple[str, bool]:
    mode = report["quantization"]
    if mode in RELATIVE_TOLERANCE:
        limit = RELATIVE_TOLERANCE[mode]
        passed = report["relative_max_abs_diff"] <= limit
        text = f"max |Δlogits| / logit range ≤ {limit:g}"
    else:
        limit = MIN_AGREEMENT[mode]
        passed = report["argmax_agreement"] >= limit
        text = f"argmax agreement ≥ {limit:.0%}"
    return text, bool(passed and report["builtin_only"])


def format_report(report: dict) -> str:
    """The report as a few aligned lines for the terminal."""

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.2f}%"

    lines = [
        f"export        {report['path']}",
        f"format        {report['format']} ({report['quantization']}), {report['size_bytes']:,} bytes, "
        f"input {report['input_size'][0]}x{report['input_size'][1]}"
        + ("" if report["output_size"] == report["input_size"] else
           f" (logits {report['output_size'][0]}x{report['output_size'][1]}, upsampled to compare)")
        + f", {report['images']} images",
        f"logits        max |Δ| {report['max_abs_diff']:.3g} (range {report['logit_range']:.3g}, "
        f"relative {report['relative_max_abs_diff']:.3g})",
        f"argmax        {pct(report['argmax_agreement'])} of pixels agree with Keras; "
        f"mIoU vs Keras {pct(report['miou_vs_keras'])}",
    ]
    if "miou_vs_labels" in report:
        labels = report["miou_vs_labels"]
        lines.append(f"mIoU (labels) Keras {pct(labels['keras'])}, export {pct(labels['export'])}")
    sizes = report["size_breakdown"]
    if sizes is not None:
        lines.append("bytes         " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in sizes.items() if k != "total"))
    lines.append("ops           " + ", ".join(f"{k}×{v}" for k, v in report["ops"].items()))
    gpu = report["gpu_delegate_unsupported"]
    if gpu is not None:
        lines.append(
            "GPU delegate  "
            + ("all ops on the documented list" if not gpu else "; ".join(f"{g['op']}: {g['reason']}" for g in gpu))
        )
    if report["quantization"] == "int8":
        fallbacks = report["float_ops"]
        lines.append("int8 ops      " + ("all integer (one QUANTIZE in, one DEQUANTIZE out)" if not fallbacks
                                         else "float fallbacks: " + ", ".join(f"{k}×{v}" for k, v in fallbacks.items())))
    lines.append(f"check         {report['criterion']}: {'PASS' if report['passed'] else 'FAIL'}")
    return "\n".join(lines)


def report_path(artifact: str, pending: bool = False) -> str:
    """Where the JSON report of an export goes: beside it, ``<name>.parity.json`` (``.<name>.parity.json.pending``
    while the export it describes is not yet in place)."""
    path = os.path.splitext(artifact)[0] + ".parity.json"
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.pending") if pending else path


def write_report(report: dict, artifact: str, pending: bool = False) -> str:
    """Writes ``report`` as JSON beside ``artifact`` (temporary name, then rename); returns its path."""
    return write_atomic(json.dumps(report, indent=2).encode("utf-8"), report_path(artifact, pending))


def read_report(artifact: str) -> dict | None:
    """The parity report beside ``artifact``, or None when there is none. A pending report (written before the
    export's rename) is renamed into place if it describes the export (``sha256``), else dropped: the pair is
    replaced together. A report of another file is refused, not believed."""
    path = report_path(artifact)
    settle_record(report_path(artifact, pending=True), path, artifact)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    if report.get("sha256") != sha256(artifact):
        raise ValueError(f"{path} is stale: it describes another export than {artifact} (sha256 differs); "
                         f"run kerasseg export again to check this file")
    return report

