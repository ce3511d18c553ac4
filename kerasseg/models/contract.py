"""The model contract shared by every builder (see DESIGN.md).

Input: RGB in [0, 255], ``(H, W, 3)`` with H and W fixed multiples of the architecture's input multiple, or
``(None, None, 3)`` (padded inside to that multiple and cropped back). Output: ``logits`` (batch, H, W, classes),
float32 even under mixed precision; with an auxiliary head, ``{"logits": ..., "aux": ...}``.
"""

from __future__ import annotations

import keras

from kerasseg.layers import CropLike, PadToMultiple, ResizeLike


def check_input_shape(input_shape, multiple: int, model: str) -> tuple:
    """Validates a builder's ``input_shape``; fixed sizes must be multiples of ``multiple``."""
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"{model}: input_shape must be (height, width, channels), got {shape}")
    if shape[2] != 3:
        raise ValueError(f"{model}: input must be RGB with 3 channels, got {shape[2]} channels")
    for axis, size in zip(("height", "width"), shape[:2], strict=True):
        if size is not None and size % multiple:
            fixed = -(-size // multiple) * multiple
            raise ValueError(
                f"{model}: input {axis} {size} is not a multiple of {multiple}; pad or resize it to {fixed} "
                f"(or {size - size % multiple}), or build with input_shape=(None, None, 3) to pad inside"
            )
    return shape


def segmentation_input(input_shape, multiple: int, model: str, name: str = "image"):
    """Returns ``(inputs, x)``: the model input and the tensor the network runs on (padded if sizes are unknown)."""
    shape = check_input_shape(input_shape, multiple, model)
    inputs = keras.Input(shape=shape, name=name)
    if shape[0] is None or shape[1] is None:
        return inputs, PadToMultiple(multiple, name="pad_to_multiple")(inputs)
    return inputs, inputs


def segmentation_model(inputs, x, logits, *, name: str, aux=None) -> keras.Model:
    """Resizes ``logits`` (and ``aux``) to the input resolution and wraps them in a ``keras.Model``.

    ``x`` is the tensor returned by :func:`segmentation_input` next to ``inputs``.
    """

    def to_input_size(t, out_name):
        t = ResizeLike(name=f"{out_name}_resize")([t, x])
        if x is not inputs:
            t = CropLike(name=f"{out_name}_crop")([t, inputs])
        return keras.layers.Activation("linear", dtype="float32", name=out_name)(t)

    outputs = to_input_size(logits, "logits")
    if aux is not None:
        outputs = {"logits": outputs, "aux": to_input_size(aux, "aux")}
    return keras.Model(inputs, outputs, name=name)


def inference_model(model: keras.Model) -> keras.Model:
    """Drops an auxiliary head: returns a model with the single ``logits`` output (for export)."""
    outputs = model.outputs
    if len(outputs) == 1:
        return model
    logits = model.get_layer("logits").output
    return keras.Model(model.inputs, logits, name=model.name)
