"""PSPNet's pyramid pooling module, with adaptive bins that work at any feature size.

Keras' own ``AdaptiveAveragePooling2D`` needs the height and width at graph-construction time; a
``(None, None, 3)`` segmentation model only learns them at run time, so this module computes its bins from the
runtime shape. At a fixed size (every export) it pools with AVERAGE_POOL_2D only, one window per bin
(STRIDED_SLICE + AVERAGE_POOL_2D + CONCATENATION where a bin count does not divide the size), and upsamples
with RESIZE_BILINEAR: all ops the LiteRT GPU delegate runs. A size known only at run time pools with a mean.
"""

from __future__ import annotations

import keras
from keras import ops

from kerasseg.layers.resizing import resize_like


def adaptive_bin_edges(size, bins: int) -> list[tuple]:
    """Bin ``i`` of ``bins`` covers ``floor(i·size/bins)`` to ``ceil((i+1)·size/bins)`` (as adaptive pooling).

    ``size`` is a Python int (static) or a scalar tensor (known only at run time); edges have the same kind.
    Neighbouring bins overlap by a row when ``bins`` does not divide ``size``.
    """
    return [((i * size) // bins, -((-(i + 1) * size) // bins)) for i in range(bins)]


def _mean_over_bins(x, bins: int, axis: int, size):
    """Averages ``x`` over each adaptive bin along ``axis`` (1 = height, 2 = width); keeps the axis, of size bins.

    A static ``size`` pools with a window per bin (AVERAGE_POOL_2D; TFLite's MEAN does not run on the LiteRT
    GPU delegate), one strided window when ``bins`` divides it; a size known only at run time takes a mean.
    """
    if isinstance(size, int) and size % bins == 0:
        return _average_window(x, size // bins, axis)
    parts = []
    for start, end in adaptive_bin_edges(size, bins):
        index = [slice(None)] * 4
        index[axis] = slice(start, end)
        part = x[tuple(index)]
        if isinstance(size, int):
            parts.append(_average_window(part, end - start, axis))
        else:
            parts.append(ops.mean(part, axis=axis, keepdims=True))
    return parts[0] if bins == 1 else ops.concatenate(parts, axis=axis)


def _average_window(x, length: int, axis: int):
    """Average pooling along one axis with window and stride ``length``."""
    window = (length, 1) if axis == 1 else (1, length)
    return ops.average_pool(x, window, strides=window, padding="valid")


def adaptive_average_pool(x, bins: int):
    """Adaptive average pooling of NHWC ``x`` to ``(batch, bins, bins, channels)``; sizes may be unknown."""
    static_h, static_w = x.shape[1], x.shape[2]
    if static_h is not None and static_w is not None and static_h % bins == 0 and static_w % bins == 0:
        pool = (static_h // bins, static_w // bins)  # includes global pooling, bins = 1
        return ops.average_pool(x, pool, strides=pool, padding="valid")
    shape = ops.shape(x)
    height = static_h if static_h is not None else shape[1]
    width = static_w if static_w is not None else shape[2]
    return _mean_over_bins(_mean_over_bins(x, bins, 1, height), bins, 2, width)


@keras.saving.register_keras_serializable(package="kerasseg")
class AdaptiveAveragePooling(keras.layers.Layer):
    """Averages NHWC input over ``bins`` × ``bins`` adaptive bins: (batch, H, W, C) → (batch, bins, bins, C).

    Unlike ``keras.layers.AdaptiveAveragePooling2D`` it accepts unknown H and W (bins computed at run time).
    """

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        if int(bins) < 1:
            raise ValueError(f"bins must be a positive integer, got {bins}")
        self.bins = int(bins)

    def call(self, x):
        return adaptive_average_pool(x, self.bins)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package="kerasseg")
class PyramidPooling(keras.layers.Layer):
    """The pyramid pooling module of PSPNet: context at several scales, concatenated with the input.

    For each bin count b in ``bins`` (paper: 1, 2, 3, 6): adaptive average pooling to b × b, a 1×1 convolution to
    ``filters`` channels (paper: 1/len(bins) of the input channels, the default), batch norm, ReLU, bilinear
    upsampling to the input size. Output: the input and the len(bins) pooled maps concatenated,
    (batch, H, W, C) → (batch, H, W, C + len(bins)·filters); H and W may be unknown.

    Reference: Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, section 3.2 and Fig. 3.
    Deviation: upsampling uses half-pixel centres (``align_corners=False``, which the LiteRT GPU delegate
    accepts), where the Caffe release aligned corners.
    """

    def __init__(self, bins=(1, 2, 3, 6), filters: int | None = None, **kwargs):
        super().__init__(**kwargs)
        bins = tuple(int(b) for b in bins)
        if not bins or min(bins) < 1:
            raise ValueError(f"bins must be positive integers, got {bins}")
        if len(set(bins)) != len(bins):
            raise ValueError(f"bins must be distinct, got {bins}")
        self.bins = bins
        self.filters = None if filters is None else int(filters)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("PyramidPooling needs a known number of input channels")
        filters = self.filters or max(1, channels // len(self.bins))
        self.pools, self.convs, self.norms = [], [], []
        dtype = self.dtype_policy  # sublayers follow this layer's (e.g. mixed) precision
        for b in self.bins:
            self.pools.append(AdaptiveAveragePooling(b, name=f"bin{b}_pool", dtype=dtype))
            self.convs.append(keras.layers.Conv2D(filters, 1, use_bias=False, name=f"bin{b}_conv", dtype=dtype))
            self.norms.append(keras.layers.BatchNormalization(name=f"bin{b}_bn", dtype=dtype))
        for pool, conv, norm in zip(self.pools, self.convs, self.norms, strict=True):
            pooled = pool.compute_output_shape(input_shape)
            conv.build(pooled)
            norm.build(conv.compute_output_shape(pooled))
        self.resolved_filters = filters

    def call(self, x, training=None):
        outputs = [x]
        for pool, conv, norm in zip(self.pools, self.convs, self.norms, strict=True):
            y = ops.relu(norm(conv(pool(x)), training=training))
            outputs.append(resize_like(y, x))
        return ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        filters = self.filters or max(1, channels // len(self.bins))
        return (*input_shape[:-1], channels + len(self.bins) * filters)

    def get_config(self):
        return {**super().get_config(), "bins": list(self.bins), "filters": self.filters}
