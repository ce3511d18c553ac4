"""ResNet-50 and ResNet-101 (v1, as keras.applications builds them), with output stride 8, 16 or 32.

Reference: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016. Dilation as in
Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation" (DeepLabv3), 2017.
"""

from __future__ import annotations

import keras
from keras import layers

from kerasseg.backbones._common import atrous_rate, check_output_stride, stage_stride
from kerasseg.backbones._weights import load_backbone_weights
from kerasseg.facts import BACKBONES
from kerasseg.layers import BackbonePreprocessing

_BN_EPSILON = 1.001e-5  # keras.applications' value, which its ImageNet statistics were converted with


def bottleneck_block(x, filters: int, *, stride: int = 1, dilation: int = 1, projection: bool = False, name: str):
    """The bottleneck residual block: 1×1 (stride) → 3×3 (dilation) → 1×1 ×4, plus the shortcut.

    The stride sits on the first 1×1 convolution, as in the original (Caffe) ResNet and keras.applications.
    """
    if projection:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def check_multi_grid(name: str, multi_grid, blocks: int) -> None:
    """``multi_grid`` is ``None`` or one unit rate per block of conv5 (``blocks``); checked once, before building
    (DeepLabV3Cascaded's copies of conv5 take the same rates, checked here by its ResNet backbone)."""
    if multi_grid is not None and len(tuple(multi_grid)) != blocks:
        raise ValueError(f"{name}: multi_grid needs {blocks} unit rates (one per conv5 block), got {multi_grid!r}")


def residual_stage(
    x, filters: int, blocks: int, *, stride: int, dilation: int, multi_grid=None, projection: bool = True, name: str
):
    """``blocks`` bottleneck blocks; the first carries the stage's stride and, with ``projection``, a 1×1
    projection shortcut (needed where the depth or the resolution changes; otherwise the identity).

    ``multi_grid`` (DeepLabv3): unit rates of the blocks, each multiplied by the stage's ``dilation``; one per
    block, as :func:`check_multi_grid` made sure before the network was built.
    """
    unit_rates = tuple(multi_grid) if multi_grid is not None else (1,) * blocks
    x = bottleneck_block(
        x, filters, stride=stride, dilation=dilation * unit_rates[0], projection=projection, name=f"{name}_block1"
    )
    for i in range(2, blocks + 1):
        x = bottleneck_block(x, filters, dilation=dilation * unit_rates[i - 1], name=f"{name}_block{i}")
    return x


def resnet_v1(name: str, inputs, *, weights=None, output_stride: int = 32, multi_grid=None) -> dict:
    """ResNet v1 features ``{"stride2": conv1_relu, ..., "stride32": conv5_block3_out}`` on RGB [0, 255].

    Stages past ``output_stride`` lose their stride (the first 1×1 convolution's) and dilate every 3×3
    convolution instead (2 after one removed stride, 4 after two), so at output stride 16 ``"stride32"`` has
    size H/16 and at 8 both ``"stride16"`` and ``"stride32"`` have size H/8; keys keep the nominal stride.
    ``multi_grid`` (e.g. ``(1, 2, 4)``, DeepLabv3) multiplies the rates of conv5's three blocks.
    Weights: ``None``, ``"imagenet"`` (Keras' file) or a path to a file that ``keras.applications`` loads.
    """
    meta = BACKBONES[name]
    output_stride = check_output_stride(name, output_stride)
    check_multi_grid(name, multi_grid, meta["blocks"][-1])
    x = BackbonePreprocessing(meta["preprocessing"], name="preprocessing")(inputs)
    x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    features = {"stride2": x}
    x = layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    names, widths, strides = ("conv2", "conv3", "conv4", "conv5"), (64, 128, 256, 512), (4, 8, 16, 32)
    stages = zip(names, widths, meta["blocks"], strides, strict=True)
    for stage, filters, blocks, stride in stages:
        x = residual_stage(
            x,
            filters,
            blocks,
            # conv2 follows the stride-2 max pool and keeps its resolution.
            stride=1 if stage == "conv2" else stage_stride(stride, output_stride),
            dilation=atrous_rate(stride, output_stride),
            multi_grid=multi_grid if stage == "conv5" else None,
            name=stage,
        )
        features[f"stride{stride}"] = x

    def reference(path):
        application = getattr(keras.applications, meta["application"])
        return application(include_top=False, weights=path, input_shape=(224, 224, 3))

    load_backbone_weights(
        name,
        inputs,
        features,
        weights,
        reference=reference,
        file_name=meta["weights_file"],
        url_dir=meta["weights_url_dir"],
        file_hash=meta["weights_hash"],
    )
    return features


def resnet50(inputs, *, weights=None, output_stride: int = 32, multi_grid=None) -> dict:
    """ResNet-50 features by stride; see :func:`resnet_v1`."""
    return resnet_v1("resnet50", inputs, weights=weights, output_stride=output_stride, multi_grid=multi_grid)


def resnet101(inputs, *, weights=None, output_stride: int = 32, multi_grid=None) -> dict:
    """ResNet-101 features by stride; see :func:`resnet_v1`."""
    return resnet_v1("resnet101", inputs, weights=weights, output_stride=output_stride, multi_grid=multi_grid)
