"""Convolution types that Keras lacks: bilinear initialisation and the spatially separable pair.

Dilated (atrous) convolution is ``keras.layers.Conv2D(dilation_rate=r)``, transposed convolution is
``keras.layers.Conv2DTranspose`` and depthwise separable convolution is ``keras.layers.SeparableConv2D``
(``depth_multiplier`` included): this module adds only what those do not cover.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def bilinear_kernel(size: int, channels: int, *, depthwise: bool = True) -> np.ndarray:
    """A (size, size, channels, channels) kernel that makes a transposed convolution upsample bilinearly.

    The filter is the outer product of two triangle functions centred on the kernel, as in FCN
    (Long et al., 2015, section 3.3). With ``depthwise`` each output channel reads only its own input
    channel; otherwise every pair of channels gets the filter.
    """
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = np.arange(size, dtype=np.float64)
    tri = 1.0 - np.abs(grid - center) / factor
    filt = np.outer(tri, tri).astype("float32")
    kernel = np.zeros((size, size, channels, channels), dtype="float32")
    if depthwise:
        for c in range(channels):
            kernel[:, :, c, c] = filt
    else:
        kernel[:] = filt[:, :, None, None]
    return kernel


@keras.saving.register_keras_serializable(package="kerasseg")
class BilinearInitializer(keras.initializers.Initializer):
    """Initialises a ``Conv2DTranspose`` kernel to bilinear upsampling (FCN's learnable upsampling).

    Use with ``Conv2DTranspose(C, kernel_size=2 * s, strides=s, padding="same")`` and as many input as
    output channels: away from the border the layer then equals bilinear upsampling by ``s``.
    Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    """

    def __init__(self, depthwise: bool = True):
        self.depthwise = depthwise

    def __call__(self, shape, dtype=None):
        kh, kw, out_c, in_c = shape
        if kh != kw or out_c != in_c:
            raise ValueError(
                f"BilinearInitializer needs a square kernel with as many input as output channels, got {shape}"
            )
        return ops.convert_to_tensor(bilinear_kernel(kh, out_c, depthwise=self.depthwise), dtype=dtype)

    def get_config(self):
        return {"depthwise": self.depthwise}


@keras.saving.register_keras_serializable(package="kerasseg")
class SpatiallySeparableConv2D(keras.layers.Layer):
    """A k×1 convolution followed by a 1×k convolution: 2k weights per channel pair instead of k².

    ``order="kx1_1xk"`` (default) runs the vertical (k×1) kernel first; ``"1xk_kx1"`` the horizontal one.
    Input (batch, H, W, C) → output (batch, H, W, filters) with "same" padding and stride 1.
    Reference: the Inception v3 factorisation (Szegedy et al., CVPR 2016) and GCN (Peng et al., CVPR 2017).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        order: str = "kx1_1xk",
        intermediate_filters: int | None = None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if order not in ("kx1_1xk", "1xk_kx1"):
            raise ValueError(f"order must be 'kx1_1xk' or '1xk_kx1', got {order!r}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.order = order
        self.intermediate_filters = intermediate_filters
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        k = kernel_size
        shapes = [(k, 1), (1, k)] if order == "kx1_1xk" else [(1, k), (k, 1)]
        mid = intermediate_filters or filters
        common = dict(
            padding="same",
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
        )
        self.first = keras.layers.Conv2D(mid, shapes[0], name="first", **common)
        self.second = keras.layers.Conv2D(filters, shapes[1], name="second", **common)

    def build(self, input_shape):
        self.first.build(input_shape)
        mid_shape = tuple(input_shape[:-1]) + (self.first.filters,)
        self.second.build(mid_shape)

    def call(self, inputs):
        return self.second(self.first(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            order=self.order,
            intermediate_filters=self.intermediate_filters,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config
