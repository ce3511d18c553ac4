"""MobileNetV2 (any width multiplier α, as keras.applications builds it), with output stride 8, 16 or 32.

Reference: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018 (Section 6.3:
DeepLabv3 on MobileNetV2, features of the last inverted residual block, atrous past output stride 16).
"""

from __future__ import annotations

import keras
from keras import layers

from kerasseg.backbones._common import atrous_rate, check_output_stride, stage_stride
from kerasseg.backbones._weights import load_backbone_weights
from kerasseg.facts import BACKBONES
from kerasseg.layers import BackbonePreprocessing

# (expansion t, output channels c, stride s) of each inverted residual block, the paper's Table 2.
_BLOCKS = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)  # fmt: skip


def make_divisible(value: float, divisor: int = 8) -> int:
    """Rounds a channel count to a multiple of ``divisor``, never below 90% of ``value`` (as the paper's code)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _keras_pad(x) -> tuple:
    # keras.applications' correct_pad for a 3×3 stride-2 convolution ((0, 1) when the size is unknown).
    return tuple((0, 1) if size is None or size % 2 == 0 else (1, 1) for size in x.shape[1:3])


def inverted_residual_block(
    x, *, expansion: int, filters: int, alpha: float, stride: int, dilation: int, downsample: bool, block_id: int
):
    """Expand (1×1, ReLU6) → depthwise 3×3 (ReLU6) → linear project (1×1), plus the input when shapes agree.

    ``downsample``: the block's nominal stride is 2. It keeps keras.applications' explicit padding while the
    stride stays 2; once ``stride`` is 1 (past the output stride) the depthwise conv is dilated "same" instead.
    """
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    in_channels = x.shape[-1]
    out_channels = make_divisible(int(filters * alpha), 8)
    inputs = x
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=_keras_pad(x), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="valid" if stride == 2 else "same",
        dilation_rate=dilation,
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(out_channels, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{prefix}project_BN")(x)
    if in_channels == out_channels and not downsample:
        x = layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def mobilenetv2(
    inputs, *, weights=None, output_stride: int = 32, alpha: float = 1.0, include_last_conv: bool = False
) -> dict:
    """MobileNetV2 features by stride on RGB [0, 255]: the last block output of each stage.

    ``"stride2"`` expanded_conv_project_BN (16α ch), ``"stride4"`` block_2_add (24α), ``"stride8"``
    block_5_add (32α), ``"stride16"`` block_12_add (96α), ``"stride32"`` block_16_project_BN (320α), the last
    inverted residual block as DeepLabv3 uses it, or with ``include_last_conv=True`` ``out_relu`` after the
    1×1 convolution to 1280 channels (1280α for α > 1) that ends the classifier's feature extractor.
    Channel counts are rounded to multiples of 8. Past ``output_stride`` the stride-2 depthwise convolutions
    (blocks 6 and 13) run at stride 1 and later depthwise convolutions are dilated 2 or 4: at output stride 16
    ``"stride32"`` has size H/16, at 8 ``"stride16"`` and ``"stride32"`` have size H/8 (keys keep the nominal
    stride). Weights: ``None``, ``"imagenet"`` (Keras' file, α in 0.35, 0.5, 0.75, 1.0, 1.3, 1.4) or a path.
    """
    meta = BACKBONES["mobilenetv2"]
    output_stride = check_output_stride("mobilenetv2", output_stride)
    if not alpha > 0:
        raise ValueError(f"mobilenetv2: alpha (width multiplier) must be positive, got {alpha!r}")
    if weights == "imagenet" and alpha not in meta["imagenet_alphas"]:
        raise ValueError(
            f"mobilenetv2: ImageNet weights exist for alpha in {meta['imagenet_alphas']}, got alpha={alpha}"
        )
    x = BackbonePreprocessing(meta["preprocessing"], name="preprocessing")(inputs)
    x = layers.Conv2D(
        make_divisible(32 * alpha, 8), 3, strides=2, padding="same", use_bias=False, name="Conv1"
    )(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)

    features, stride = {}, 2
    for block_id, (expansion, filters, nominal) in enumerate(_BLOCKS):
        # The depthwise conv runs at its input's resolution: that stride sets its dilation.
        x = inverted_residual_block(
            x,
            expansion=expansion,
            filters=filters,
            alpha=alpha,
            stride=stage_stride(stride * nominal, output_stride) if nominal == 2 else 1,
            dilation=atrous_rate(stride, output_stride),
            downsample=nominal == 2,
            block_id=block_id,
        )
        stride *= nominal
        features[f"stride{stride}"] = x  # the last block of each stride wins

    if include_last_conv:
        last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
        x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
        x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
        features["stride32"] = layers.ReLU(6.0, name="out_relu")(x)

    def reference(path):
        return keras.applications.MobileNetV2(
            input_shape=(224, 224, 3), alpha=alpha, include_top=False, weights=path
        )

    load_backbone_weights(
        "mobilenetv2",
        inputs,
        features,
        weights,
        reference=reference,
        file_name=meta["weights_file"].format(alpha=float(alpha)),
        url_dir=meta["weights_url_dir"],
        file_hash=meta["weights_hash"].get(float(alpha)),
        unused=() if include_last_conv else ("Conv_1", "Conv_1_bn"),
    )
    return features
