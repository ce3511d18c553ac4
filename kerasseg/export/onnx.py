"""ONNX export through tf2onnx, from the same frozen ``model(x, training=False)`` endpoint as the TFLite export."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from kerasseg.export.tflite import frozen_function, write_atomic
from kerasseg.models.contract import inference_model

DEFAULT_OPSET = 17


def to_onnx(
    model: keras.Model,
    path: str,
    opset: int = DEFAULT_OPSET,
    input_size: tuple[int, int] | None = None,
    batch: int | None = None,
) -> str:
    """Converts ``model`` to an ONNX file at ``path``; returns ``path``.

    Input ``image`` (batch, H, W, 3) float32 RGB in [0, 255] (NHWC, as in Keras), output ``logits``
    (batch, H, W, classes). ``input_size`` fixes H and W (default: the model's own, dynamic if it has none);
    ``batch`` None keeps the batch dynamic. An auxiliary head is dropped. Written under a temporary name.
    """
    try:
        import tf2onnx
    except ImportError as err:
        raise ImportError("ONNX export needs tf2onnx: pip install tf2onnx==1.17.0 onnx==1.23.2") from err
    if not 7 <= int(opset) <= 21:
        raise ValueError(f"opset must be between 7 and 21 (tf2onnx 1.17 supports these), got {opset}")
    model = inference_model(model)
    size = tuple(input_size) if input_size is not None else tuple(model.input_shape[1:3])
    if len(size) != 2:
        raise ValueError(f"input_size must be (height, width), got {size}")
    try:
        frozen = frozen_function(model, size, batch=batch)
    except tf.errors.OperatorNotAllowedInGraphError as err:
        raise ValueError(
            f"{model.name} cannot be traced with unknown height and width (a layer needs static sizes in graph "
            f"mode: {str(err).splitlines()[0]}); pass input_size=(height, width)"
        ) from err
    graph_def = frozen.graph.as_graph_def()
    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=inputs, output_names=outputs, opset=int(opset)
        )
    except Exception as err:  # tf2onnx raises many types; name the model and the opset
        raise ValueError(f"ONNX conversion of {model.name} (opset {opset}) failed: {err}") from err
    _rename(proto, inputs, outputs)
    return write_atomic(proto.SerializeToString(), path)


def _rename(proto, inputs: list[str], outputs: list[str]) -> None:
    """Gives the graph's input and output the contract's names, ``image`` and ``logits``."""
    renames = {inputs[0]: "image", outputs[0]: "logits"}
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = renames.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]


def onnx_session(path: str, num_threads: int = 2):
    """An onnxruntime CPU session; a missing file gets a ``FileNotFoundError``."""
    import onnxruntime as ort

    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX model {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_onnx(path: str, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Runs an ONNX segmenter with onnxruntime on images (N, H, W, 3) in [0, 255]; returns float32 logits."""
    session = onnx_session(path, num_threads)
    inp = session.get_inputs()[0]
    images = np.asarray(images, dtype="float32")
    expected = [d if isinstance(d, int) else None for d in inp.shape]
    if images.ndim != 4 or any(e is not None and e != s for e, s in zip(expected[1:], images.shape[1:], strict=True)):
        raise ValueError(f"{path} takes images {tuple(expected)}, got {images.shape}")
    if expected[0] is None:
        return session.run(None, {inp.name: images})[0]
    return np.concatenate([session.run(None, {inp.name: image[None]})[0] for image in images])


def onnx_ops(path: str) -> list[str]:
    """The ONNX operator types a model uses."""
    import onnx

    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX model {path} does not exist")
    return sorted({node.op_type for node in onnx.load(path).graph.node})
