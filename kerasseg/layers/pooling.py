"""Max pooling that records its pooling indices, and the unpooling that reuses them (SegNet).

SegNet's decoder upsamples with the *max-pooling indices* of the matching encoder stage: each value goes back to
where its maximum came from, every other position gets zero, and no upsampling weight is learned. SegNet keeps
only "2 bits for each 2×2 pooling window"; so do these layers: an index is the position of the maximum inside its
window, 0 (top-left), 1 (top-right), 2 (bottom-left) or 3 (bottom-right).

``tf.nn.max_pool_with_argmax`` is a Flex op in LiteRT, so both layers are written with builtin ops only (strided
slices, maximum, equal, select, pack, reshape). Ties go to the first maximum in row-major order inside the window,
the rule of ``tf.nn.max_pool_with_argmax`` (its kernels replace the running maximum only when a value is
strictly larger), so the indices are the same as TensorFlow's up to the change of encoding.

Reference: Badrinarayanan, Kendall, Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image
Segmentation", TPAMI 2017, section 3 and Fig. 3.
"""

from __future__ import annotations

import keras
from keras import ops


def _window_corners(x):
    """The four (batch, H/2, W/2, C) maps of 2×2 window corners in row-major order."""
    return x[:, 0::2, 0::2, :], x[:, 0::2, 1::2, :], x[:, 1::2, 0::2, :], x[:, 1::2, 1::2, :]


def _check_even(model_name: str, shape) -> None:
    for axis, size in zip(("height", "width"), shape[1:3], strict=True):
        if size is not None and size % 2:
            raise ValueError(
                f"{model_name}: 2×2 max pooling with indices needs an even {axis}, got {size}; pad the input "
                f"to a multiple of 2 for every pooling stage (32 for SegNet)"
            )


@keras.saving.register_keras_serializable(package="kerasseg")
class MaxPoolingWithIndices(keras.layers.Layer):
    """2×2, stride-2 max pooling that also returns the pooling indices: ``pooled, indices = layer(x)``.

    Input (batch, H, W, C) with H, W even. Outputs: ``pooled`` (batch, H/2, W/2, C), and ``indices`` of the same
    shape, int32 in {0, 1, 2, 3}: where in its 2×2 window each maximum was (row-major; the first on ties).
    """

    def call(self, x):
        _check_even(self.name, x.shape)
        corners = _window_corners(x)
        pooled = ops.maximum(ops.maximum(corners[0], corners[1]), ops.maximum(corners[2], corners[3]))
        # Nested selects from the last corner to the first: the first corner equal to the maximum wins a tie.
        indices = ops.full_like(pooled, 3, dtype="int32")
        for k in (2, 1, 0):
            indices = ops.where(ops.equal(corners[k], pooled), ops.cast(k, "int32"), indices)
        return pooled, indices

    def compute_output_shape(self, input_shape):
        _check_even(self.name, input_shape)

        def half(n):
            return None if n is None else n // 2

        shape = (input_shape[0], half(input_shape[1]), half(input_shape[2]), input_shape[3])
        return shape, shape

    def compute_output_spec(self, x):
        shape = self.compute_output_shape(x.shape)[0]
        return keras.KerasTensor(shape, dtype=self.compute_dtype), keras.KerasTensor(shape, dtype="int32")


@keras.saving.register_keras_serializable(package="kerasseg")
class MaxUnpooling(keras.layers.Layer):
    """Places each value at the position its pooling indices recorded, zeros elsewhere: ``MaxUnpooling()([x, idx])``.

    ``x`` (batch, h, w, C) and ``indices`` (batch, h, w, C) from :class:`MaxPoolingWithIndices` → (batch, 2h, 2w, C).
    Nothing is learned: the decoder's convolutions that follow densify the sparse map (SegNet, Fig. 3).
    """

    def _check_shapes(self, x_shape, indices_shape):
        for axis, a, b in zip(("height", "width", "channels"), x_shape[1:], indices_shape[1:], strict=True):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"{self.name}: {axis} {a} to unpool but indices for {axis} {b}; the decoder stage must give "
                    "back the shape its encoder stage pooled"
                )

    def call(self, inputs):
        x, indices = inputs
        self._check_shapes(x.shape, indices.shape)
        corners = [x * ops.cast(ops.equal(indices, k), x.dtype) for k in range(4)]
        shape = ops.shape(x)
        h, w, c = shape[1], shape[2], shape[3]
        # Interleave the corners: columns within each window row, then the two window rows.
        top = ops.reshape(ops.stack(corners[:2], axis=3), (-1, h, 2 * w, c))
        bottom = ops.reshape(ops.stack(corners[2:], axis=3), (-1, h, 2 * w, c))
        return ops.reshape(ops.stack([top, bottom], axis=2), (-1, 2 * h, 2 * w, c))

    def compute_output_shape(self, input_shapes):
        x_shape, indices_shape = input_shapes
        self._check_shapes(x_shape, indices_shape)

        def double(n):
            return None if n is None else 2 * n

        return (x_shape[0], double(x_shape[1]), double(x_shape[2]), x_shape[3])
