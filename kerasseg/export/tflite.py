"""TFLite export with builtin ops only: float32, float16, dynamic-range and full-integer int8."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from kerasseg.models.contract import inference_model

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


def _fixed_size(model: keras.Model, input_size) -> tuple[int, int]:
    h, w = model.input_shape[1:3]
    if input_size is not None:
        h_in, w_in = input_size
        if (h is not None and h != h_in) or (w is not None and w != w_in):
            raise ValueError(f"input_size {tuple(input_size)} does not match the model's fixed input {(h, w)}")
        return int(h_in), int(w_in)
    if h is None or w is None:
        raise ValueError("the model accepts any size: pass input_size=(height, width) to fix it for mobile")
    return int(h), int(w)


def _saved_model(model: keras.Model, size: tuple[int, int], directory: str) -> None:
    """Writes a SavedModel whose endpoint calls ``model(x, training=False)`` with batch fixed at 1.

    Keras' ``model.export`` can trace BatchNorm in training mode, and a dynamic batch keeps dilated convolutions in
    their SpaceToBatch form: a fixed-batch ``ExportArchive`` endpoint avoids both.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(x):
        return model(x, training=False)

    archive.add_endpoint(
        name="serve",
        fn=serve,
        input_signature=[tf.TensorSpec((1, *size, 3), tf.float32, name="image")],
    )
    archive.write_out(directory, verbose=False)


def to_tflite(
    model: keras.Model,
    path: str,
    quantization: str = "float32",
    representative_data: Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]] | None = None,
    input_size: tuple[int, int] | None = None,
) -> str:
    """Converts ``model`` to a ``.tflite`` file at ``path`` with builtin ops only; returns ``path``.

    Batch 1, input (1, H, W, 3) RGB in [0, 255]. ``int8`` is full-integer: uint8 image input (camera pixels, as
    MediaPipe expects) and float32 logits output, calibrated on ``representative_data`` (images (H, W, 3) or
    (1, H, W, 3) in [0, 255]). An auxiliary head is dropped. The file is written under a temporary name and renamed.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantization!r}; valid modes: {', '.join(QUANTIZATIONS)}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantization needs representative_data (a few real images in [0, 255])")
    model = inference_model(model)
    size = _fixed_size(model, input_size)
    with tempfile.TemporaryDirectory() as tmp:
        _saved_model(model, size, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantization == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8
            converter.representative_dataset = _representative(representative_data, size)
        flatbuffer = converter.convert()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=".tflite-", dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(flatbuffer)
    os.replace(tmp_path, path)
    return path


def _representative(data, size):
    def gen():
        items = data() if callable(data) else data
        for image in items:
            image = np.asarray(image, dtype="float32")
            if image.ndim == 3:
                image = image[None]
            if image.shape[1:3] != size:
                image = tf.image.resize(image, size).numpy()
            yield [image.astype("float32")]

    return gen


def run_tflite(path: str, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Runs a ``.tflite`` segmenter with LiteRT on images (N, H, W, 3) in [0, 255]; returns float logits."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=num_threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    results = []
    for image in np.asarray(images):
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


def tflite_ops(path: str) -> list[str]:
    """The operator names used by a ``.tflite`` file (builtin names, or ``CUSTOM:<name>`` / Flex ops)."""
    from tensorflow.lite.python import schema_py_generated as schema

    with open(path, "rb") as f:
        buf = f.read()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops_ = []
    for code in m.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = names.get(builtin, str(builtin))
        if name == "CUSTOM":
            name = f"CUSTOM:{code.customCode.decode() if code.customCode else ''}"
        ops_.append(name)
    return sorted(set(ops_))
