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
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasseg.export.flatbuffer import share_vectors, tflite_op_list, tflite_ops, tflite_quantization
from kerasseg.models.contract import inference_model

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
__all__ = ["QUANTIZATIONS", "run_tflite", "tflite_op_list", "tflite_ops", "tflite_quantization", "to_tflite",
           "to_tflite_modes"]

RepresentativeData = Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]] | np.ndarray


def fixed_input_size(model: keras.Model, input_size=None) -> tuple[int, int]:
    """The (height, width) an export of ``model`` takes: ``input_size``, or the model's own fixed size."""
    h, w = model.input_shape[1:3]
    if input_size is not None:
        if len(tuple(input_size)) != 2:
            raise ValueError(f"input_size must be (height, width), got {tuple(input_size)}")
        h_in, w_in = (int(v) for v in input_size)
        if (h is not None and h != h_in) or (w is not None and w != w_in):
            raise ValueError(f"input_size {(h_in, w_in)} does not match the model's fixed input {(h, w)}")
        return h_in, w_in
    if h is None or w is None:
        raise ValueError("the model accepts any size: pass input_size=(height, width) to fix it for mobile")
    return int(h), int(w)


def frozen_function(model: keras.Model, size: tuple[int, int] | None, batch: int | None = 1):
    """The export endpoint ``model(x, training=False)`` on (batch, H, W, 3) float32, with weights as constants.

    ``size`` None (or a None entry) keeps that dimension dynamic (ONNX); TFLite always gets batch 1 and a size.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    model = inference_model(model)
    h, w = size if size is not None else (None, None)
    archive = keras.export.ExportArchive()
    archive.track(model)

    # Batch and size fixed in the signature (for TFLite): one trace, and dilated convolutions stay CONV_2D.
    @tf.function(input_signature=[tf.TensorSpec((batch, h, w, 3), tf.float32, name="image")])
    def serve(image):
        return model(image, training=False)

    endpoint = archive.add_endpoint(name="serve", fn=serve)
    return convert_variables_to_constants_v2(endpoint.get_concrete_function())


def to_tflite(
    model: keras.Model,
    path: str,
    quantization: str = "float32",
    representative_data: RepresentativeData | None = None,
    input_size: tuple[int, int] | None = None,
    *,
    labels: Sequence[str] | None = None,
    metadata: bool = True,
    full_resolution: bool = True,
) -> str:
    """Converts ``model`` to a ``.tflite`` file at ``path`` with builtin ops only; returns ``path``.

    Batch 1, input (1, H, W, 3) RGB in [0, 255]: float32, or uint8 camera pixels for ``int8`` (full-integer,
    calibrated on ``representative_data``: real images (H, W, 3) or (N, H, W, 3) in [0, 255], resized to the
    input size). Output: float32 logits (1, H, W, classes). An auxiliary head is dropped. With ``metadata`` the
    file carries MediaPipe ImageSegmenter metadata (mean 0, std 1: the model takes [0, 255] pixels) and a label
    map (``labels``, default ``class_0`` …). ``full_resolution=False`` leaves out the final upsampling of the
    logits (see :func:`native_resolution_model`). Written under a temporary name and renamed.
    """
    check_quantization(quantization, representative_data)
    model = inference_model(model)
    size = fixed_input_size(model, input_size)
    if not full_resolution:
        model = native_resolution_model(model)
    label_list = _label_list(labels, model) if metadata else None
    flatbuffer = convert(frozen_function(model, size), quantization, representative_data, size)
    return write_atomic(_finished(flatbuffer, label_list), path)


def to_tflite_modes(
    model: keras.Model,
    directory: str,
    quantizations: Sequence[str] = QUANTIZATIONS,
    representative_data: RepresentativeData | None = None,
    input_size: tuple[int, int] | None = None,
    *,
    labels: Sequence[str] | None = None,
    metadata: bool = True,
    name: str | None = None,
    full_resolution: bool = True,
) -> dict[str, str]:
    """Exports ``model`` in several modes from one traced function: ``{mode: path}``, files ``{name}_{mode}.tflite``."""
    for quantization in quantizations:
        check_quantization(quantization, representative_data)
    model = inference_model(model)
    size = fixed_input_size(model, input_size)
    if not full_resolution:
        model = native_resolution_model(model)
    frozen = frozen_function(model, size)
    label_list = _label_list(labels, model) if metadata else None
    paths = {}
    for quantization in quantizations:
        flatbuffer = convert(frozen, quantization, representative_data, size)
        path = os.path.join(directory, f"{name or model.name}_{quantization}.tflite")
        paths[quantization] = write_atomic(_finished(flatbuffer, label_list), path)
    return paths


def native_resolution_model(model: keras.Model) -> keras.Model:
    """``model`` without its final upsampling: logits at the resolution the classifier computes them.

    MediaPipe's ImageSegmenter, the desktop runner and the demos resize the output to the image themselves, so
    on a phone the in-model upsampling of (H, W, classes) logits is work done twice; in int8 it is also a
    full-resolution requantized resize and dequantize. Needs the contract's ``logits_resize`` layer and a
    fixed-size model (an any-size model crops its padding after that resize).
    """
    names = {layer.name for layer in model.layers}
    if "logits_resize" not in names:
        raise ValueError(f"{model.name} has no 'logits_resize' layer (kerasseg's model contract): export it at "
                         "full resolution")
    if "logits_crop" in names:
        raise ValueError(f"{model.name} pads any input size and crops after upsampling: build it with a fixed "
                         "input_shape to export native-resolution logits")
    logits = model.get_layer("logits_resize").input[0]
    return keras.Model(model.inputs, logits, name=model.name)


def check_quantization(quantization: str, representative_data) -> None:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantization!r}; valid modes: {', '.join(QUANTIZATIONS)}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantization needs representative_data (a few real images in [0, 255])")


def default_labels(classes: int) -> list[str]:
    return [f"class_{i}" for i in range(classes)]


def _label_list(labels: Sequence[str] | None, model: keras.Model) -> list[str]:
    classes = int(model.output_shape[-1])
    if labels is None:
        return default_labels(classes)
    if len(labels) != classes:
        raise ValueError(f"{len(labels)} labels for a model with {classes} classes")
    return list(labels)


def convert(frozen, quantization: str, representative_data, size: tuple[int, int]) -> bytes:
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
        converter.representative_dataset = representative_dataset(representative_data, size)
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
    """The file's bytes: with MediaPipe metadata when ``labels`` is given, small vectors stored once either way."""
    if labels is None:
        return share_vectors(flatbuffer)
    from kerasseg.export.metadata import segmenter_metadata

    return segmenter_metadata(flatbuffer, labels)  # compacts after the writer's re-serialization


def representative_dataset(data: RepresentativeData, size: tuple[int, int]):
    """A generator factory for the converter: each real image resized to ``size``, batch 1, float32.

    Each image gets one pixel at 0 and one at 255, so the calibrated input range is exactly [0, 255] and the
    uint8 input tensor (scale 1, zero point 0) takes raw camera pixels, as MediaPipe feeds them.
    """

    def gen():
        items = data() if callable(data) else data
        count = 0
        for image in items:
            image = np.asarray(image, dtype="float32")
            if image.ndim == 4:
                batch = list(image)
            elif image.ndim == 3 and image.shape[-1] == 3:
                batch = [image]
            else:
                raise ValueError(f"representative images must be (H, W, 3) or (N, H, W, 3), got {image.shape}")
            for single in batch:
                if single.shape[:2] != size:
                    single = tf.image.resize(single, size).numpy()
                single = np.clip(single, 0.0, 255.0)
                single[0, 0, 0], single[-1, -1, 0] = 0.0, 255.0
                count += 1
                yield [single[None].astype("float32")]
        if count == 0:
            raise ValueError("representative_data is empty: int8 calibration needs real images")

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


def write_atomic(data: bytes, path: str) -> str:
    """Writes ``data`` to a temporary file beside ``path`` and renames it, so no half-written file remains."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tflite_interpreter(path: str, num_threads: int = 2):
    """A LiteRT interpreter with tensors allocated; a missing file gets a ``FileNotFoundError``."""
    from ai_edge_litert.interpreter import Interpreter

    if not os.path.isfile(path):
        raise FileNotFoundError(f"TFLite model {path} does not exist")
    try:
        interpreter = Interpreter(model_path=path, num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"TFLite model {path} is damaged: {str(err).splitlines()[0]}") from None
    return interpreter


def tflite_input_size(path: str) -> tuple[int, int]:
    """The (height, width) a ``.tflite`` segmenter takes."""
    shape = tflite_interpreter(path, 1).get_input_details()[0]["shape"]
    return int(shape[1]), int(shape[2])


def run_tflite(path: str, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Runs a ``.tflite`` segmenter with LiteRT on images (N, H, W, 3) in [0, 255]; returns float32 logits."""
    interpreter = tflite_interpreter(path, num_threads)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(inp["shape"][1:]):
        raise ValueError(f"{path} takes images (N, {', '.join(map(str, inp['shape'][1:]))}), got {images.shape}")
    results = []
    for image in images:
        x = image[None]
        if inp["dtype"] == np.uint8:
            x = np.clip(np.round(x), 0, 255).astype(np.uint8)
        elif inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        else:
            x = x.astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0]
        if out["dtype"] in (np.int8, np.uint8):
            scale, zero = out["quantization"]
            y = (y.astype("float32") - zero) * scale
        results.append(y.astype("float32"))
    return np.stack(results)
