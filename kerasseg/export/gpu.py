"""Which operators of a ``.tflite`` file the LiteRT GPU delegate would not run (so they fall back to the CPU).

Reference: the GPU delegate's documented operator list, "GPU delegates for LiteRT" (ai.google.dev/edge/litert/
performance/gpu, formerly tensorflow.org/lite/performance/gpu): these ops in 16- and 32-bit float, each at
version 1 unless a range is given; quantized models run through the delegate's quantized-model support, which
dequantizes (so QUANTIZE / DEQUANTIZE and the higher int8 op versions are accepted there). The traps peers' users
hit are ARG_MAX (export logits, let the app take the argmax), RESIZE_NEAREST_NEIGHBOR and resizes with
``align_corners=True`` (kerasseg resizes bilinearly with half-pixel centres).

TensorFlow's ``tf.lite.experimental.Analyzer.analyze(model_content=..., gpu_compatibility=True)`` cannot replace
this list: in TF 2.21 it calls every model tried "compatible with GPU delegate", including ARG_MAX,
RESIZE_NEAREST_NEIGHBOR, MEAN, TRANSPOSE, SPACE_TO_BATCH_ND, CUMSUM and TOPK_V2 (tests/export/test_gpu_ops.py).
"""

from __future__ import annotations

from kerasseg.export.flatbuffer import tflite_op_list

# op -> highest documented version for float models.
GPU_DELEGATE_OPS = {
    **dict.fromkeys(("ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "EXP", "FULLY_CONNECTED", "LOGICAL_AND",
                     "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MINIMUM", "MUL", "PAD", "PRELU", "RELU", "RELU6", "RESHAPE",
                     "SOFTMAX", "STRIDED_SLICE", "SUB", "TRANSPOSE_CONV"), 1),
    "DEPTHWISE_CONV_2D": 2,
    "LSTM": 2,
    "RESIZE_BILINEAR": 3,
}
# Weight dequantization of float16 exports and the quantize/dequantize pairs of quantized ones.
QUANTIZATION_OPS = ("DEQUANTIZE", "QUANTIZE")

HINTS = {
    "ARG_MAX": "export logits and take the argmax in the app (MediaPipe does)",
    "RESIZE_NEAREST_NEIGHBOR": "use bilinear resizing (ResizeLike / UpSampling2D(interpolation='bilinear'))",
    "MEAN": "use AveragePooling2D with a fixed pool size instead of a global mean",
    "SPACE_TO_BATCH_ND": "fix the batch size at 1 so dilated convolutions convert to CONV_2D with dilation",
    "BATCH_TO_SPACE_ND": "fix the batch size at 1 so dilated convolutions convert to CONV_2D with dilation",
    "TRANSPOSE": "keep tensors NHWC; a transpose usually comes from a reshape of channels",
}


def gpu_unsupported(path: str) -> list[dict]:
    """One entry per unsupported operator kind: ``{"op", "count", "reason", "hint"}`` (empty: all supported)."""
    ops_ = tflite_op_list(path)
    quantized = any(t["type"] in ("INT8", "UINT8") for op in ops_ for t in op["inputs"] + op["outputs"])
    problems: dict[tuple[str, str], int] = {}
    for op in ops_:
        reason = _reason(op, quantized)
        if reason:
            problems[(op["op"], reason)] = problems.get((op["op"], reason), 0) + 1
    return [
        {"op": name, "count": count, "reason": reason, "hint": HINTS.get(name, "")}
        for (name, reason), count in sorted(problems.items())
    ]


def _reason(op: dict, quantized: bool) -> str:
    name, version, options = op["op"], op["version"], op["options"]
    if options.get("alignCorners"):
        return "align_corners=True is not supported by the GPU delegate"
    if name in QUANTIZATION_OPS:
        return ""
    if name not in GPU_DELEGATE_OPS:
        return "not in the GPU delegate's documented operator list"
    if not quantized and version > GPU_DELEGATE_OPS[name]:
        return f"version {version} (documented: up to {GPU_DELEGATE_OPS[name]})"
    return ""
