"""Xception (as keras.applications builds it), with output stride 8, 16 or 32.

Reference: Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017. Dilation as in
Chen et al., "Encoder-Decoder with Atrous Separable Convolution" (DeepLabv3+), ECCV 2018, which however
uses its own "aligned" Xception-65; this is the original network with its ImageNet weights, aligned as ResNet is.

Alignment: Keras' entry convolutions are unpadded (a 32k input gives maps of 16k − 3, 8k − 1, ...) and its
"same" 3×3 max pools with stride 2 centre their windows on the strided 1×1 shortcut's positions only on inputs
of odd size. The input is therefore zero padded by 3 before and 4 after (the preprocessed value 0, mid-grey):
for H = 32k every map is H/s + 1 long, odd wherever a block strides, and its position j sits on input pixel
s·j, the geometry of ResNet and of the authors' Xception-65 (sizes s·k + 1). Each feature drops its last row
and column, the one past the image, so it is exactly H/s. At stride 1 (past ``output_stride``) the centred
pool and shortcut then compute the strided network densely: its features are the dilated ones at [::rate].
"""

from __future__ import annotations

import keras
from keras import layers

from kerasseg.backbones._common import atrous_rate, check_output_stride, stage_stride
from kerasseg.backbones._weights import load_backbone_weights
from kerasseg.facts import BACKBONES
from kerasseg.layers import BackbonePreprocessing


def _separable(x, filters: int, dilation: int, name: str, *, relu: str):
    """Separable 3×3 → BN, with its ReLU ``"before"`` (entry and middle flow), ``"after"`` (block 14) or none."""
    if relu == "before":
        x = layers.Activation("relu", name=f"{name}_act")(x)
    x = layers.SeparableConv2D(
        filters, 3, padding="same", dilation_rate=dilation, use_bias=False, name=name
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if relu == "after":
        x = layers.Activation("relu", name=f"{name}_act")(x)
    return x


def downsampling_block(x, filters: tuple[int, int], *, stride: int, dilation: int, first_relu: bool, name: str):
    """Two separable convolutions and a 3×3 max pool, plus a strided 1×1 convolution on the shortcut.

    Past the output stride the pool and the shortcut run at stride 1; the separable convolutions run before
    the pool, at the block's input resolution, with that resolution's ``dilation``.
    """
    residual = layers.Conv2D(
        filters[1], 1, strides=stride, padding="same", use_bias=False, name=f"{name}_residual"
    )(x)
    residual = layers.BatchNormalization(name=f"{name}_residual_bn")(residual)
    x = _separable(x, filters[0], dilation, f"{name}_sepconv1", relu="before" if first_relu else "none")
    x = _separable(x, filters[1], dilation, f"{name}_sepconv2", relu="before")
    x = layers.MaxPooling2D(3, strides=stride, padding="same", name=f"{name}_pool")(x)
    return layers.Add(name=f"{name}_add")([x, residual])


def middle_flow_block(x, *, dilation: int, name: str):
    """Three ReLU → separable 3×3 (728) → BN units with an identity shortcut."""
    residual = x
    for unit in (1, 2, 3):
        x = _separable(x, 728, dilation, f"{name}_sepconv{unit}", relu="before")
    return layers.Add(name=f"{name}_add")([x, residual])


def xception(inputs, *, weights=None, output_stride: int = 32) -> dict:
    """Xception features by stride on RGB [0, 255].

    ``"stride2"`` block1_conv2_act (64 ch), ``"stride4"`` block2_add (128), ``"stride8"`` block3_add (256),
    ``"stride16"`` block12_add (728, end of the middle flow), ``"stride32"`` block14_sepconv2_act (2048).
    For H = 32k each has size H/s, position j on input pixel s·j (see the module docstring); the network is
    keras.applications.Xception run on the image padded by 3 before and 4 after. Past ``output_stride`` the
    max pool and shortcut of block 4 (output stride 8) and block 13 (8 and 16) run at stride 1 and the later
    separable convolutions are dilated 2 or 4; the keys keep their nominal stride. The residual shortcut layers
    that keras.applications leaves unnamed are named ``block{n}_residual``, ``block{n}_residual_bn`` and
    ``block{n}_add`` here.
    Weights: ``None``, ``"imagenet"`` (Keras' file) or a path to a file that ``keras.applications`` loads.
    """
    meta = BACKBONES["xception"]
    output_stride = check_output_stride("xception", output_stride)
    x = BackbonePreprocessing(meta["preprocessing"], name="preprocessing")(inputs)
    x = layers.ZeroPadding2D(((3, 4), (3, 4)), name="block1_pad")(x)
    x = layers.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(x)
    x = layers.BatchNormalization(name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    maps = {"stride2": x}

    # Entry flow: blocks 2-4, each halving the resolution.
    for block, width, stride in ((2, 128, 4), (3, 256, 8), (4, 728, 16)):
        x = downsampling_block(
            x,
            (width, width),
            stride=stage_stride(stride, output_stride),
            dilation=atrous_rate(stride // 2, output_stride),
            first_relu=block > 2,  # block 2 follows block1_conv2_act
            name=f"block{block}",
        )
        maps[f"stride{stride}"] = x
    # Middle flow: blocks 5-12 at stride 16.
    for block in range(5, 13):
        x = middle_flow_block(x, dilation=atrous_rate(16, output_stride), name=f"block{block}")
    maps["stride16"] = x
    # Exit flow: block 13 halves the resolution, block 14 widens to 2048 channels.
    x = downsampling_block(
        x,
        (728, 1024),
        stride=stage_stride(32, output_stride),
        dilation=atrous_rate(16, output_stride),
        first_relu=True,
        name="block13",
    )
    rate = atrous_rate(32, output_stride)
    x = _separable(x, 1536, rate, "block14_sepconv1", relu="after")
    maps["stride32"] = _separable(x, 2048, rate, "block14_sepconv2", relu="after")
    # The last row and column lie past the image (see the module docstring).
    features = {key: layers.Cropping2D(((0, 1), (0, 1)), name=f"{key}_crop")(t) for key, t in maps.items()}

    def reference(path):
        return keras.applications.Xception(include_top=False, weights=path, input_shape=(299, 299, 3))

    load_backbone_weights(
        "xception",
        inputs,
        features,
        weights,
        reference=reference,
        file_name=meta["weights_file"],
        url_dir=meta["weights_url_dir"],
        file_hash=meta["weights_hash"],
    )
    return features
