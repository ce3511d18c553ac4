"""Blocks that several families share, as functions over tensors (a family's own blocks stay in its module)."""

from __future__ import annotations

import keras


def conv_bn_relu(x, filters: int, kernel_size: int = 1, *, dilation: int = 1, separable: bool = False, name: str):
    """Convolution (plain or depthwise separable), batch norm, ReLU: the unit of DeepLabv3's and PSPNet's heads."""
    conv = keras.layers.SeparableConv2D if separable and kernel_size > 1 else keras.layers.Conv2D
    x = conv(filters, kernel_size, padding="same", dilation_rate=dilation, use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)
