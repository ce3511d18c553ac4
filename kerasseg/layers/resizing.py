"""Layers that keep the model contract: any input size in, logits at input resolution out."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

GRIDS = ("half_pixel", "top_left", "bottom_right")


def check_grid(grid: str, interpolation: str = "bilinear") -> str:
    if grid not in GRIDS:
        raise ValueError(f"ResizeLike: grid must be one of {', '.join(GRIDS)}, got {grid!r}")
    if grid != "half_pixel" and interpolation != "bilinear":
        raise ValueError(f"ResizeLike: grid={grid!r} is defined for bilinear interpolation, not {interpolation!r}")
    return grid


def resize_like(x, reference, interpolation: str = "bilinear", grid: str = "half_pixel"):
    """Resizes NHWC ``x`` to the height and width of ``reference``, static or known only at run time.

    ``grid``: where cell j of ``x`` lies among the r×r cells of ``reference`` it stands for (r the size ratio),
    at their centre (``"half_pixel"``), on cell r·j (``"top_left"``) or on r·j + r − 1 (``"bottom_right"``);
    see :class:`ResizeLike`.
    """
    check_grid(grid, interpolation)
    static = reference.shape[1:3]
    if static[0] is not None and static[1] is not None:
        size = (int(static[0]), int(static[1]))
        if tuple(x.shape[1:3]) == size:
            return x
        if grid == "half_pixel":
            return ops.image.resize(x, size, interpolation=interpolation)
        if None not in x.shape[1:3]:
            return _resize_on_grid(x, size, tuple(n // int(m) for n, m in zip(size, x.shape[1:3], strict=True)), grid)
    size = tf.shape(reference)[1:3]
    if grid == "half_pixel":
        # keras.ops.image.resize compares the size with 0 in Python, which a symbolic size cannot do inside a
        # traced training step, so sizes known only at run time go to the TensorFlow op directly.
        return tf.cast(tf.image.resize(x, size, method=interpolation), x.dtype)
    return _resize_on_grid(x, size, size // tf.shape(x)[1:3], grid)


def _resize_on_grid(x, size, ratio, grid: str):
    """Bilinear resize to ``size`` (``ratio`` times ``x``'s): output i reads ``x`` at i/r, or at (i + 1)/r − 1.

    TensorFlow's resize with neither half-pixel centres nor corner alignment reads output i at i · in/out,
    exactly i/r when the sizes are r·k and k (LiteRT RESIZE_BILINEAR with both flags off, ONNX Resize
    "asymmetric"); past the last cell it repeats the last value. "bottom_right" is that resize of ``x`` with its
    first row and column repeated, from position 1: position i + 1 there reads x at (i + 1)/r − 1.
    """
    if grid == "top_left":
        y = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=False, half_pixel_centers=False)
        return tf.cast(y, x.dtype)
    padded = tf.concat([x[:, :1], x], axis=1)
    padded = tf.concat([padded[:, :, :1], padded], axis=2)
    larger = tf.stack([size[0] + ratio[0], size[1] + ratio[1]])
    y = tf.raw_ops.ResizeBilinear(images=padded, size=larger, align_corners=False, half_pixel_centers=False)
    return tf.cast(y[:, 1 : 1 + size[0], 1 : 1 + size[1]], x.dtype)


@keras.saving.register_keras_serializable(package="kerasseg")
class ResizeLike(keras.layers.Layer):
    """Resizes ``x`` to the spatial size of ``reference`` (both NHWC); works for unknown sizes.

    Call as ``ResizeLike()([x, reference])``. ``grid`` is where cell j of ``x`` lies on the grid of
    ``reference`` when ``reference`` is r times larger, i.e. which pixels a backbone's stride-s cell was computed
    at:

    - ``"half_pixel"`` (default, and what a saved layer without the key means): at the centre of the r×r cells
      r·j … r·j + r − 1 (``tf.image.resize``, half-pixel centres). Right for VGG's 2×2 pools.
    - ``"top_left"``: on cell r·j. The grid of ResNet and of kerasseg's Xception (stride-2 layers padded
      symmetrically, cell j of a stride-s map centred on pixel s·j), and the DeepLab authors' (tensorflow/models
      research/deeplab: symmetric ``fixed_padding``, crops of 513 = 32·16 + 1, ``resize_bilinear`` with
      ``align_corners=True`` from 33 to 513 puts cell j on pixel 16·j). On sizes r·k that is output i reading
      ``x`` at i/r, the last r − 1 cells repeating the last value.
    - ``"bottom_right"``: on cell r·j + r − 1. The grid of Keras' MobileNetV2, whose stride-2 "same" padding
      falls only at the bottom/right (cell j of a stride-s map centred on pixel s·j + s − 1).

    A half-pixel resize of a "top_left" map moves everything (r − 1)/2 cells down and right (1.5 pixels at ×4,
    7.5 after ×4 twice); of a "bottom_right" map as far up and left. No ``align_corners``, which the LiteRT GPU
    delegate rejects: every grid converts to RESIZE_BILINEAR (plus CONCATENATION and STRIDED_SLICE for
    "bottom_right") and to ONNX Resize. The two corner grids are bilinear only.
    """

    def __init__(self, interpolation: str = "bilinear", grid: str = "half_pixel", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation
        self.grid = check_grid(grid, interpolation)

    def call(self, inputs):
        x, reference = inputs
        return resize_like(x, reference, self.interpolation, self.grid)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation, "grid": self.grid}


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
