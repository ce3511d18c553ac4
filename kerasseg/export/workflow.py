"""``kerasseg export``: load a saved model, export it, check it against Keras, write the report beside it."""

from __future__ import annotations

import os

import keras

from kerasseg.export.check_data import CheckData, load_check_data, synthetic_check_data
from kerasseg.export.metadata import read_label_file
from kerasseg.export.onnx import DEFAULT_OPSET, to_onnx
from kerasseg.export.parity import parity_report, report_path, write_report
from kerasseg.export.tflite import QUANTIZATIONS, fixed_input_size, to_tflite
from kerasseg.models.contract import inference_model

FORMATS = ("tflite", "onnx")


def export_checked(
    model: keras.Model | str,
    out: str,
    fmt: str = "tflite",
    quantization: str = "float32",
    input_size: tuple[int, int] | None = None,
    *,
    check: str | None = None,
    split: str = "val",
    calibration: str | None = None,
    labels_file: str | None = None,
    limit: int = 16,
    opset: int = DEFAULT_OPSET,
    metadata: bool = True,
    data_dir: str | None = None,
    full_resolution: bool = True,
    verbose: bool = False,
) -> dict:
    """Exports ``model`` (a ``keras.Model`` or a ``.keras`` path) to ``out`` and returns its parity report.

    ``check``: a dataset spec or a folder of images to check on (default: synthetic shapes, reported as such);
    ``calibration``: the int8 representative images (default: the ``check`` data; int8 needs one of them).
    Labels for the metadata come from ``labels_file``, else from the dataset's class names when they match the
    model's class count. The report is also written as JSON beside ``out``. ``verbose`` prints each step.
    """
    say = print if verbose else (lambda *_: None)
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantization!r}; valid modes: {', '.join(QUANTIZATIONS)}")
    if fmt == "onnx" and not full_resolution:
        raise ValueError("native-resolution logits are a TFLite option (MediaPipe resizes the output)")
    if fmt == "onnx" and quantization != "float32":
        raise ValueError("ONNX export is float32 only; quantize with onnxruntime's tools if needed")
    check_output(out, fmt)
    if isinstance(model, str):
        from kerasseg.evaluation import load_model

        model = load_model(model)
    model = inference_model(model)
    size = fixed_input_size(model, input_size)
    checked = load_check_data(check, size, split, limit, data_dir) if check else None
    calibrating = load_check_data(calibration, size, split, limit, data_dir) if calibration else checked
    if quantization == "int8" and calibrating is None:
        raise ValueError("int8 export needs real images to calibrate on: pass --check DATA or --calibration DATA")
    classes = int(model.output_shape[-1])
    labels = _labels(labels_file, checked, classes)
    # The export and its report go to temporary names and are renamed together at the end: a kill at any
    # instant leaves either the previous pair, or the new export alone, never a report of another export.
    partial = os.path.join(os.path.dirname(os.path.abspath(out)), f".partial-{os.path.basename(out)}")
    try:
        if fmt == "tflite":
            representative = calibrating.images if calibrating is not None else None
            calibrated = f", calibrating on {len(representative)} images" if quantization == "int8" else ""
            say(f"converting to TFLite {quantization} at {size[0]}x{size[1]}{calibrated} ...", flush=True)
            to_tflite(model, partial, quantization, representative, size, labels=labels, metadata=metadata,
                      full_resolution=full_resolution)
        else:
            say(f"converting to ONNX (opset {opset}) at {size[0]}x{size[1]} ...", flush=True)
            to_onnx(model, partial, opset, size, batch=1)
        data = checked or synthetic_check_data(size)
        say(f"checking against Keras on {len(data.images)} images ...", flush=True)
        report = parity_report(model, partial, data.images, data.masks, class_names=labels)
        report["path"], report["data"] = os.path.abspath(out), data.source
        partial_report = write_report(report, partial)
        if os.path.exists(report_path(out)):
            os.remove(report_path(out))
        os.replace(partial, out)
        os.replace(partial_report, report_path(out))
    finally:
        for leftover in (partial, report_path(partial)):
            if os.path.exists(leftover):
                os.remove(leftover)
    report["report_path"] = report_path(out)
    return report


def check_output(out: str, fmt: str) -> None:
    """The export's path, checked before any conversion: a file name with the format's suffix, in a folder."""
    if os.path.isdir(out):
        raise ValueError(f"--out {out} is a folder; give the export's file name, e.g. {os.path.join(out, 'model.' + fmt)}")
    if os.path.splitext(out)[1].lower() != f".{fmt}":
        raise ValueError(f"--out {out} must end with .{fmt} for --format {fmt}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--out {out}: folder {folder} does not exist")


def _labels(labels_file: str | None, checked: CheckData | None, classes: int) -> list[str] | None:
    if labels_file:
        labels = read_label_file(labels_file)
        if len(labels) != classes:
            raise ValueError(f"label file {labels_file} has {len(labels)} labels, the model {classes} classes")
        return labels
    if checked is not None and checked.class_names and len(checked.class_names) == classes:
        return checked.class_names
    return None
