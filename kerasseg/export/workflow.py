"""``kerasseg export``: load a saved model, export it, check it against Keras, write the report beside it."""

from __future__ import annotations

import os

import keras

from kerasseg.export.check_data import CheckData, load_check_data, synthetic_check_data
from kerasseg.export.metadata import read_label_file
from kerasseg.export.onnx import DEFAULT_OPSET, check_opset, to_onnx
from kerasseg.export.parity import parity_report, report_path, write_report
from kerasseg.export.preparation import prepare
from kerasseg.export.tflite import check_quantization, write_tflite
from kerasseg.files import check_outside, partial_path, settle_record
from kerasseg.locks import OutputLock

FORMATS = ("tflite", "onnx")


def export_checked(model: keras.Model | str, out: str, fmt: str = "tflite", quantization: str = "float32",
                   input_size: tuple[int, int] | None = None, *, check: str | None = None, split: str = "val",
                   calibration: str | None = None, labels_file: str | None = None, limit: int = 16,
                   opset: int | None = None, metadata: bool = True, data_dir: str | None = None,
                   full_resolution: bool = True, verbose: bool = False) -> dict:
    """Exports ``model`` (a ``keras.Model`` or a ``.keras`` path) to ``out`` and returns its parity report.

    ``check``: a dataset spec or a folder of images to check on (default: synthetic shapes, reported as such);
    ``calibration``: the int8 representative images (default: the ``limit`` images of ``check`` that follow the
    checked ones; calibration images are never the checked images). Labels for the metadata come from
    ``labels_file``, else from the dataset's class names when they match the model's class count. The report
    (with the export's ``sha256``) is also written as JSON beside ``out``. An export that fails its check never
    replaces ``out``: it is kept as ``<name>.failed<suffix>`` with its report (``report["replaced"]`` False).
    ``out`` has one writer at a time (:class:`kerasseg.locks.OutputLock`). ``verbose`` prints each step.
    """
    say = (lambda *args: print(*args, flush=True)) if verbose else (lambda *_: None)
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    check_quantization(quantization)
    if fmt == "onnx" and not full_resolution:
        raise ValueError("native-resolution logits are a TFLite option (MediaPipe resizes the output)")
    if fmt == "onnx" and quantization != "float32":
        raise ValueError("ONNX export is float32 only; quantize with onnxruntime's tools if needed")
    if opset is not None and fmt != "onnx":
        raise ValueError(f"opset {opset} is an ONNX option; this export is format={fmt}")
    opset = DEFAULT_OPSET if opset is None else opset
    check_opset(opset)
    check_output(out, fmt)
    for source in (check, calibration):
        check_outside(out, "out", _source_folders(source, data_dir))
    with OutputLock(out, "out"):  # one writer per export: a second export to the same file is refused
        if isinstance(model, str):
            from kerasseg.evaluation import load_model

            model = load_model(model)
        prepared = prepare(model, input_size, full_resolution=full_resolution)
        size = prepared.size
        checked = load_check_data(check, size, split, limit, data_dir) if check else None
        calibrating = _calibration(quantization, calibration, check, size, split, limit, data_dir)
        labels = _labels(labels_file, checked, len(prepared.labels))
        prepared = prepared.with_data(calibrating.images if calibrating else None, labels)
        source = calibrating.source if calibrating else None
        return _convert_and_check(prepared, out, fmt, quantization, opset, metadata, checked, source, say)


def _convert_and_check(prepared, out: str, fmt: str, quantization: str, opset: int, metadata: bool,
                       checked: CheckData | None, calibration: str | None, say) -> dict:
    """Converts to a temporary name and checks the file there. Passed: its report (which records the export's
    sha256) is written under a pending name, then the export is renamed, then the report, so a kill at any
    instant leaves the previous pair or the new one (read_report completes a pending report whose export arrived
    and drops one whose export did not). Failed: the previous pair is left as it was and the new file is kept as
    ``<name>.failed<suffix>`` with its report, for a look. An error or Ctrl-C leaves no partial file."""
    partial, size, target = partial_path(out), prepared.size, out
    try:
        if fmt == "tflite":
            calibrated = f", calibrating on {len(prepared.calibration)} images" if quantization == "int8" else ""
            say(f"converting to TFLite {quantization} at {size[0]}x{size[1]}{calibrated} ...")
            write_tflite(prepared, {quantization: partial}, metadata)
        else:
            say(f"converting to ONNX (opset {opset}) at {size[0]}x{size[1]} ...")
            to_onnx(prepared, partial, opset, batch=1)
        data = checked or synthetic_check_data(size)
        say(f"checking against Keras on {len(data.images)} images ...")
        report = parity_report(prepared, partial, data.images, data.masks, quantization=quantization,
                               class_names=prepared.labels)
        report["data"], report["calibration"] = data.source, calibration
        target = out if report["passed"] else failed_path(out)
        report["path"], report["replaced"] = os.path.abspath(target), report["passed"]
        write_report(report, target, pending=True)
        os.replace(partial, target)
    finally:  # also after an error or Ctrl-C: no partial export, and the pending report completed or dropped
        if os.path.exists(partial):
            os.remove(partial)
        settle_record(report_path(target, pending=True), report_path(target), target)
    report["report_path"] = report_path(target)
    return report


def failed_path(out: str) -> str:
    """Where an export that failed its check is kept: ``model.failed.tflite`` beside ``model.tflite``."""
    stem, suffix = os.path.splitext(out)
    return f"{stem}.failed{suffix}"


def _source_folders(source: str | None, data_dir: str | None) -> dict:
    """The folders a --check or --calibration source reads: a folder of images, or a dataset's folders."""
    if source is None:
        return {}
    if os.path.isdir(source):
        return {"the image folder": source}
    from kerasseg.data.datasets import input_folders

    return input_folders(source, data_dir)


def _calibration(quantization, calibration, check, size, split, limit, data_dir) -> CheckData | None:
    """int8 calibration images: ``calibration``, or else the images of ``check`` after the ``limit`` checked ones."""
    if quantization != "int8":
        return None
    source = calibration or check
    if source is None:
        raise ValueError("int8 export needs real images to calibrate on: pass check=DATA or calibration=DATA")
    skip = limit if source == check else 0  # never calibrate on the images the export is checked on
    return load_check_data(source, size, split, limit, data_dir, skip=skip)


def check_output(out: str, fmt: str) -> None:
    """The export's path, checked before any conversion: a file name with the format's suffix, in a folder."""
    if os.path.isdir(out):
        raise ValueError(f"out {out} is a folder; give the export's file name, e.g. {os.path.join(out, 'model.' + fmt)}")
    if os.path.splitext(out)[1].lower() != f".{fmt}":
        raise ValueError(f"out {out} must end with .{fmt} for format={fmt}")
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"out {out}: {folder} is a file, not a folder")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"out {out}: folder {folder} does not exist")


def _labels(labels_file: str | None, checked: CheckData | None, classes: int) -> list[str] | None:
    if labels_file:
        labels = read_label_file(labels_file)
        if len(labels) != classes:
            raise ValueError(f"label file {labels_file} has {len(labels)} labels, the model {classes} classes")
        return labels
    if checked is not None and checked.class_names and len(checked.class_names) == classes:
        return checked.class_names
    return None
