"""Layers that keep the model contract: any input size in, logits at input resolution out."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def resize_like(x, reference, interpolation: str = "bilinear"):
    """Resizes NHWC ``x`` to the height and width of ``reference``, static or known only at run time."""
    static = reference.shape[1:3]
    if static[0] is not None and static[1] is not None:
        size = (int(static[0]), int(static[1]))
        if tuple(x.shape[1:3]) == size:
            return x
        return ops.image.resize(x, size, interpolation=interpolation)
    # keras.ops.image.resize compares the size with 0 in Python, which a symbolic size cannot do inside a
    # traced training step, so sizes known only at run time go to the TensorFlow op directly.
    size = tf.shape(reference)[1:3]
    return tf.cast(tf.image.resize(x, size, method=interpolation), x.dtype)


@keras.saving.register_keras_serializable(package="kerasseg")
class ResizeLike(keras.layers.Layer):
    """Resizes ``x`` to the spatial size of ``reference`` (both NHWC); works for unknown sizes.

    Bilinear with half-pixel centres (never ``align_corners``, which the LiteRT GPU delegate rejects).
    Call as ``ResizeLike()([x, reference])``.
    """

    def __init__(self, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, inputs):
        x, reference = inputs
        return resize_like(x, reference, self.interpolation)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="kerasseg")
class PadToMultiple(keras.layers.Layer):
    """Pads height and width at the bottom/right up to the next multiple of ``multiple``.

    Lets ``(None, None, 3)`` models accept any size; ``CropLike`` removes the padding from the output.
    The padding value is ``value`` (in the model's [0, 255] input range).
    """

    def __init__(self, multiple: int, value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)
        self.value = float(value)

    def call(self, x):
        shape = ops.shape(x)
        m = self.multiple
        pad_h = (m - shape[1] % m) % m
        pad_w = (m - shape[2] % m) % m
        return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=self.value)

    def compute_output_shape(self, input_shape):
        def up(n):
            return None if n is None else -(-n // self.multiple) * self.multiple

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple, "value": self.value}


@keras.saving.register_keras_serializable(package="kerasseg")
class CropLike(keras.layers.Layer):
    """Crops ``x`` to the height and width of ``reference`` (top-left aligned): ``CropLike()([x, ref])``."""

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])
