"""ONNX export through tf2onnx, from the same frozen ``model(x, training=False)`` endpoint as the TFLite export."""

from __future__ import annotations

import importlib.util
import os

import keras
import numpy as np
import tensorflow as tf

from kerasseg.export.preparation import PreparedModel, prepare
from kerasseg.export.quiet import converter_output
from kerasseg.export.tflite import frozen_function
from kerasseg.files import write_atomic

DEFAULT_OPSET = 17


def check_opset(opset: int) -> None:
    if not 7 <= int(opset) <= 21:
        raise ValueError(f"opset must be between 7 and 21 (tf2onnx 1.17 supports these), got {opset}")


def to_onnx(model: keras.Model | PreparedModel, path: str, opset: int = DEFAULT_OPSET,
            input_size: tuple[int, int] | None = None, batch: int | None = None, verbose: bool = False) -> str:
    """Converts ``model`` to an ONNX file at ``path``; returns ``path``.

    Input ``image`` (batch, H, W, 3) float32 RGB in [0, 255] (NHWC, as in Keras), output ``logits``
    (batch, H, W, classes). ``input_size`` fixes H and W (default: the model's own, dynamic if it has none);
    ``batch`` None keeps the batch dynamic. An auxiliary head is dropped. Written under a temporary name. The
    converter's own logging and native output are shown only with ``verbose``.
    """
    if importlib.util.find_spec("tf2onnx") is None:
        raise ImportError("ONNX export needs tf2onnx: pip install 'kerasseg[export]'")
    check_opset(opset)
    prepared = prepare(model, input_size, fixed_size=False)
    if prepared.model is not prepared.reference:
        raise ValueError("native-resolution logits are a TFLite option (MediaPipe resizes the output)")
    model = prepared.model
    with converter_output(verbose):
        proto = _converted(model, prepared.size, batch, opset)
    _exact_resize_sizes(proto)
    return write_atomic(proto.SerializeToString(), path)


def _converted(model, size, batch, opset):
    """The ONNX graph of ``model``'s frozen trace, its input and output named ``image`` and ``logits``."""
    import tf2onnx

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
    return proto


def _rename(proto, inputs: list[str], outputs: list[str]) -> None:
    """Gives the graph's input and output the contract's names, ``image`` and ``logits``."""
    renames = {inputs[0]: "image", outputs[0]: "logits"}
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = renames.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]


def _exact_resize_sizes(proto) -> None:
    """Gives every Resize with constant ``scales`` the exact output ``sizes`` the TensorFlow graph has instead.

    tf2onnx writes a resize to a static size as float32 ``scales`` = out / in, and ONNX's output size is
    floor(in × scale): where the float rounds down (7 / 3 = 2.3333333, × 3 = 6.9999999) a row is lost and the
    concatenation that follows fails shape inference (PSPNet's pyramid at 7×10 features, DeepLabV3+ with
    Xception at 96×128). Resize's ``sizes`` input states the size itself (runtimes then take out / in as the
    scale, as TensorFlow does); a dynamic batch is read from the input's shape. Input shapes come from ONNX shape
    inference, redone after each resize, in graph order, so that a resize sees the exact shapes of those before.
    """
    import onnx
    from onnx import helper, numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    outputs = [n.output[0] for n in proto.graph.node
               if n.op_type == "Resize" and len(n.input) == 3 and n.input[2] in constants]
    for output in outputs:
        index, node = next((i, n) for i, n in enumerate(proto.graph.node) if n.output[0] == output)
        inferred = onnx.shape_inference.infer_shapes(proto).graph
        dims = {v.name: v.type.tensor_type.shape.dim for v in [*inferred.value_info, *inferred.input]}
        scales = constants[node.input[2]]
        sizes = [round(d.dim_value * float(scale)) if d.HasField("dim_value") else None
                 for d, scale in zip(dims[node.input[0]], scales, strict=True)]
        name = f"{output}_sizes"
        if None in sizes[1:] or (sizes[0] is None and scales[0] != 1):
            continue  # no static size to state: tf2onnx's scales stay
        if sizes[0] is not None:
            proto.graph.initializer.append(numpy_helper.from_array(np.array(sizes, np.int64), name))
        else:  # dynamic batch: Shape(x)[0:1] followed by the static sizes
            proto.graph.initializer.extend(numpy_helper.from_array(np.array(v, np.int64), f"{name}_{k}")
                                           for k, v in (("start", [0]), ("end", [1]), ("rest", sizes[1:])))
            for offset, new in enumerate([
                helper.make_node("Shape", [node.input[0]], [f"{name}_shape"]),
                helper.make_node("Slice", [f"{name}_shape", f"{name}_start", f"{name}_end"], [f"{name}_batch"]),
                helper.make_node("Concat", [f"{name}_batch", f"{name}_rest"], [name], axis=0),
            ]):
                proto.graph.node.insert(index + offset, new)
        node.input[2:] = ["", name]
    used = {name for node in proto.graph.node for name in node.input}
    kept = [t for t in proto.graph.initializer if t.name in used or t.name not in constants]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)  # tf2onnx's scales that no node reads any more


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
