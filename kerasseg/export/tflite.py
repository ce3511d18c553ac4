"""TFLite export with builtin ops only: float32, float16, dynamic-range and full-integer int8.

Every export goes through one traced function: a ``keras.export.ExportArchive`` endpoint that calls
``model(x, training=False)`` on a (1, H, W, 3) float32 image, frozen (variables folded into constants) before
conversion. Measured reasons: Keras' ``model.export`` can trace BatchNorm in training mode, a dynamic batch keeps
dilated convolutions in their SpaceToBatch form, and an unfrozen concrete function keeps Keras 3 weights as
variables (slow, and int8 calibration fails). Freezing in memory instead of writing a SavedModel and loading it
back makes the four conversions of one model about three times faster.

int8 input type: uint8 with scale 1 and zero point 0, i.e. raw camera pixels, which MediaPipe feeds to a uint8
model unchanged (the calibration is made to see the full [0, 255] range, and the result is checked).

int8 output type: float32 logits. The integer network ends in one DEQUANTIZE of the logits; every consumer (the
parity report, the desktop runner, MediaPipe's softmax confidence masks) then reads real-valued logits without
knowing an output scale. MediaPipe also loads a uint8-output export (checked), so the choice is about cost: the
DEQUANTIZE runs on (H, W, classes), which matters only for full-resolution logits, and
``full_resolution=False`` (logits at the classifier's grid, upsampled by the app) removes that together with the
int8 full-resolution resize, the larger of the two costs in ``benchmarks/mobile.py``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasseg.compat import frozen_graph
from kerasseg.export.flatbuffer import contract_names
from kerasseg.export.preparation import PreparedModel, RepresentativeData, prepare
from kerasseg.export.quiet import converter_output
from kerasseg.export.runner import tflite_interpreter  # noqa: F401 (benchmarks/mobile.py imports it from here)
from kerasseg.files import write_atomic

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


def to_tflite(model: keras.Model | PreparedModel, path: str, quantization: str = "float32",
              representative_data: RepresentativeData | None = None, input_size: tuple[int, int] | None = None, *,
              labels: Sequence[str] | None = None, metadata: bool = True, full_resolution: bool = True,
              verbose: bool = False) -> str:
    """Converts ``model`` to a ``.tflite`` file at ``path`` with builtin ops only; returns ``path``.

    Batch 1, input (1, H, W, 3) RGB in [0, 255]: float32, or uint8 camera pixels for ``int8`` (full-integer,
    calibrated on ``representative_data``: real images (H, W, 3) or (N, H, W, 3) in [0, 255], resized to the
    input size). Output: float32 logits (1, H, W, classes). An auxiliary head is dropped. With ``metadata`` the
    file carries MediaPipe ImageSegmenter metadata (mean 0, std 1: the model takes [0, 255] pixels) and a label
    map (``labels``, default ``class_0`` …). ``full_resolution=False`` leaves out the final upsampling of the
    logits (see :func:`~kerasseg.export.preparation.native_resolution_model`). Written under a temporary name and
    renamed. A :class:`~kerasseg.export.preparation.PreparedModel` brings its own size, calibration and labels.
    The converter's own logging and native output are shown only with ``verbose``.
    """
    prepared = _checked(model, (quantization,), representative_data, input_size, labels, full_resolution)
    return write_tflite(prepared, {quantization: path}, metadata, verbose)[quantization]


def to_tflite_modes(model: keras.Model | PreparedModel, directory: str, quantizations: Sequence[str] = QUANTIZATIONS,
                    representative_data: RepresentativeData | None = None,
                    input_size: tuple[int, int] | None = None, *, labels: Sequence[str] | None = None,
                    metadata: bool = True, name: str | None = None, full_resolution: bool = True,
                    verbose: bool = False) -> dict[str, str]:
    """Exports ``model`` in several modes from one traced function: ``{mode: path}``, files ``{name}_{mode}.tflite``
    in ``directory``. Arguments as :func:`to_tflite`."""
    prepared = _checked(model, quantizations, representative_data, input_size, labels, full_resolution)
    paths = {q: os.path.join(directory, f"{name or prepared.model.name}_{q}.tflite") for q in quantizations}
    return write_tflite(prepared, paths, metadata, verbose)


def _checked(model, quantizations, representative_data, input_size, labels, full_resolution) -> PreparedModel:
    prepared = prepare(model, input_size, representative_data, labels=labels, full_resolution=full_resolution)
    for quantization in quantizations:
        check_quantization(quantization, prepared.calibration is not None)
    return prepared


def write_tflite(prepared: PreparedModel, paths: dict[str, str], metadata: bool = True,
                 verbose: bool = False) -> dict[str, str]:
    """Converts a prepared model once per mode (``{mode: path}``, modes already checked) from one traced function."""
    labels = prepared.labels if metadata else None
    with converter_output(verbose):
        frozen = frozen_function(prepared.model, prepared.size)
        flatbuffers = {q: _finished(convert(frozen, q, prepared.calibration), labels) for q in paths}
    return {q: write_atomic(flatbuffers[q], path) for q, path in paths.items()}


def frozen_function(model: keras.Model, size: tuple[int | None, int | None], batch: int | None = 1):
    """The export endpoint ``model(x, training=False)`` on (batch, H, W, 3) float32, with weights as constants.

    ``model`` is an inference model (one output); a None size entry or batch stays dynamic (ONNX); TFLite always
    gets batch 1 and a size.
    """
    h, w = size
    archive = keras.export.ExportArchive()
    archive.track(model)

    # Batch and size fixed in the signature (for TFLite): one trace, and dilated convolutions stay CONV_2D.
    @tf.function(input_signature=[tf.TensorSpec((batch, h, w, 3), tf.float32, name="image")])
    def serve(image):
        return model(image, training=False)

    endpoint = archive.add_endpoint(name="serve", fn=serve)
    return frozen_graph(endpoint.get_concrete_function())


def check_quantization(quantization: str, calibrating: bool = True) -> None:
    """Refuses an unknown mode, and int8 without calibration images."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantization!r}; valid modes: {', '.join(QUANTIZATIONS)}")
    if quantization == "int8" and not calibrating:
        raise ValueError("int8 quantization needs representative_data (a few real images in [0, 255])")


def convert(frozen, quantization: str, calibration: np.ndarray | None) -> bytes:
    """Runs the TFLite converter on a frozen function with builtin ops only; returns its flatbuffer as is."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.representative_dataset = representative_dataset(calibration)
    try:
        with warnings.catch_warnings():
            # "Statistics for quantized inputs were expected": the input range comes from calibration and is
            # checked to be raw pixels below.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            flatbuffer = converter.convert()
    except Exception as err:  # the converter raises ConverterError and others; say which op and what to do
        raise ValueError(f"TFLite conversion ({quantization}, builtin ops only) failed: {err}") from err
    if quantization == "int8":
        _check_pixel_input(flatbuffer)
    return flatbuffer


def _finished(flatbuffer: bytes, labels: list[str] | None) -> bytes:
    """The file's bytes: tensors named ``image`` and ``logits``, small vectors stored once, and MediaPipe metadata
    when ``labels`` is given."""
    flatbuffer = contract_names(flatbuffer)
    if labels is None:
        return flatbuffer
    from kerasseg.export.metadata import segmenter_metadata

    return segmenter_metadata(flatbuffer, labels)  # compacts after the writer's re-serialization


def representative_dataset(images: np.ndarray):
    """A generator factory for the converter: each calibration image (at the input size), batch 1, float32.

    Each image gets one pixel at 0 and one at 255, so the calibrated input range is exactly [0, 255] and the
    uint8 input tensor (scale 1, zero point 0) takes raw camera pixels, as MediaPipe feeds them.
    """

    def gen():
        for image in images:
            single = np.clip(image, 0.0, 255.0)
            single[0, 0, 0], single[-1, -1, 0] = 0.0, 255.0
            yield [single[None].astype("float32")]

    return gen


def _check_pixel_input(flatbuffer: bytes) -> None:
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_content=flatbuffer).get_input_details()[0]
    scale, zero = detail["quantization"]
    if detail["dtype"] != np.uint8 or abs(scale - 1.0) > 1e-6 or zero != 0:
        raise ValueError(
            f"int8 export: the input should take uint8 pixels (scale 1, zero point 0), got {detail['dtype']} "
            f"with scale {scale}, zero point {zero}"
        )
