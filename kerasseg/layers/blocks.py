"""Blocks named in the papers and shared by several architectures, as functions over tensors."""

from __future__ import annotations

import keras

from kerasseg.layers.pyramid_pooling import AdaptiveAveragePooling
from kerasseg.layers.resizing import ResizeLike


def conv_bn_relu(x, filters: int, kernel_size: int = 1, *, dilation: int = 1, separable: bool = False, name: str):
    """Convolution (plain or depthwise separable), batch norm, ReLU — the unit of DeepLabv3's heads."""
    conv = keras.layers.SeparableConv2D if separable and kernel_size > 1 else keras.layers.Conv2D
    x = conv(filters, kernel_size, padding="same", dilation_rate=dilation, use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def ASPP(
    x,
    filters: int = 256,
    atrous_rates=(6, 12, 18),
    *,
    image_pooling: bool = True,
    separable: bool = False,
    dropout: float = 0.1,
    name: str = "aspp",
):
    """Atrous Spatial Pyramid Pooling with image-level features (DeepLabv3, section 3.3).

    Branches: a 1×1 convolution, one 3×3 atrous convolution per rate, and image pooling (global average, 1×1
    convolution, bilinear upsampling), each with batch norm; concatenated, then fused by a 1×1 convolution.
    (N, h, w, C) → (N, h, w, filters). ``atrous_rates=()`` keeps only the 1×1 and pooling branches (the
    MobileNetV2 DeepLabv3 head). Reference: Chen et al., "Rethinking Atrous Convolution for Semantic Image
    Segmentation", arXiv 1706.05587, 2017.
    """
    branches = [conv_bn_relu(x, filters, 1, name=f"{name}_1x1")]
    for rate in atrous_rates:
        branches.append(conv_bn_relu(x, filters, 3, dilation=rate, separable=separable, name=f"{name}_rate{rate}"))
    if image_pooling:
        # Global average pooling as one AVERAGE_POOL_2D at a fixed size (a global mean converts to MEAN, which
        # the LiteRT GPU delegate does not run).
        pooled = AdaptiveAveragePooling(1, name=f"{name}_image_pool")(x)
        pooled = conv_bn_relu(pooled, filters, 1, name=f"{name}_image")
        branches.append(ResizeLike(name=f"{name}_image_upsample")([pooled, x]))
    y = keras.layers.Concatenate(name=f"{name}_concat")(branches) if len(branches) > 1 else branches[0]
    y = conv_bn_relu(y, filters, 1, name=f"{name}_project")
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    return y
