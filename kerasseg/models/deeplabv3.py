"""DeepLabv3 (atrous spatial pyramid pooling with image-level features; cascaded atrous blocks) and DeepLabv3+.

References: Chen, Papandreou, Schroff, Adam, "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv 1706.05587, 2017; Chen, Zhu, Papandreou, Schroff, Adam, "Encoder-Decoder with Atrous Separable Convolution
for Semantic Image Segmentation", ECCV 2018.
"""

from __future__ import annotations

import keras

from kerasseg.backbones import BACKBONES as BACKBONE_FACTS
from kerasseg.backbones import build_backbone
from kerasseg.backbones.resnet import residual_stage
from kerasseg.layers import AdaptiveAveragePooling, ResizeLike
from kerasseg.models.blocks import conv_bn_relu
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["DeepLabV3", "DeepLabV3Cascaded", "DeepLabV3Plus"]


def aspp(
    x,
    filters: int = 256,
    atrous_rates=(6, 12, 18),
    *,
    image_pooling: bool = True,
    separable: bool = False,
    dropout: float = 0.1,
    name: str = "aspp",
):
    """Atrous Spatial Pyramid Pooling (ASPP) with image-level features (DeepLabv3, section 3.3).

    Branches: a 1×1 convolution, one 3×3 atrous convolution per rate, and image pooling (global average, 1×1
    convolution, bilinear upsampling), each with batch norm; concatenated, then fused by a 1×1 convolution.
    (N, h, w, C) → (N, h, w, filters). ``atrous_rates=()`` keeps only the 1×1 and pooling branches (the
    MobileNetV2 DeepLabv3 head).
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


def _encoder(x, backbone, weights, output_stride, multi_grid, backbone_options):
    options = dict(backbone_options)
    if backbone.startswith("resnet"):
        options["multi_grid"] = multi_grid
    elif multi_grid not in (None, (1, 2, 4)):
        raise ValueError(f"multi_grid applies to ResNet backbones only, not {backbone!r}")
    return build_backbone(backbone, x, weights=weights, output_stride=output_stride, **options)


def _resize_grid(backbone: str, aligned_resize) -> str:
    """The grid of the head's resizes (kerasseg.layers.ResizeLike): the backbone's own, or half-pixel.

    ``aligned_resize=None`` is on for Xception only (see DeepLabV3Plus's docstring for why).
    """
    if aligned_resize is None:
        aligned_resize = backbone == "xception"
    if not aligned_resize:
        return "half_pixel"
    if "feature_grid" not in BACKBONE_FACTS.get(backbone, {}):
        raise ValueError(f"aligned_resize: the feature grid of backbone {backbone!r} is not known")
    return BACKBONE_FACTS[backbone]["feature_grid"]


def _rates(atrous_rates, output_stride):
    """The paper's ASPP rates (6, 12, 18) at output stride 16, doubled at 8 (section 3.3)."""
    if atrous_rates is not None:
        return tuple(atrous_rates)
    return tuple(r * 16 // output_stride for r in (6, 12, 18))


@register("deeplabv3")
def DeepLabV3(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    output_stride: int = 16,
    multi_grid=(1, 2, 4),
    atrous_rates=None,
    aspp_filters: int = 256,
    separable: bool = False,
    aligned_resize: bool | None = None,
    **backbone_options,
) -> keras.Model:
    """DeepLabv3 with ASPP: (N, H, W, 3) RGB [0, 255] → logits (N, H, W, classes).

    Backbone at ``output_stride`` 16 (or 8: rates doubled), ``multi_grid`` unit rates in the last ResNet stage,
    ASPP (1×1, three 3×3 atrous, image pooling; 256 filters, batch norm), 1×1 classifier, bilinear upsampling to
    the input. ``atrous_rates=()`` gives the MobileNetV2 head without atrous branches.
    ``aligned_resize``: the upsampling reads the backbone's grid, as in DeepLabV3Plus (on by default for
    Xception only); half-pixel, a stride-16 cell lands 7.5 pixels off.
    """
    grid = _resize_grid(backbone, aligned_resize)
    inputs, x = segmentation_input(input_shape, output_stride, "DeepLabV3")
    features = _encoder(x, backbone, weights, output_stride, multi_grid, backbone_options)
    y = aspp(features["stride32"], aspp_filters, _rates(atrous_rates, output_stride), separable=separable)
    return segmentation_model(inputs, x, classifier(y, classes), name=f"deeplabv3_{backbone}", grid=grid)


@register("deeplabv3_cascaded")
def DeepLabV3Cascaded(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    output_stride: int = 16,
    multi_grid=(1, 2, 4),
    cascade: int = 3,
    block_filters: int = 512,
) -> keras.Model:
    """DeepLabv3 "going deeper" (section 3.2): copies of ResNet block4 cascaded as block5…block(4 + cascade).

    Each extra block holds three bottleneck units with ``multi_grid`` unit rates; its atrous rate doubles from
    block to block so the output stride stays ``output_stride`` (block7 at rate 16 for output stride 16).
    ``block_filters`` is the bottleneck width (512 in ResNet's block4). Shortcuts are the identity, as in the
    authors' bottleneck when the depth is unchanged (2048 in, 4 × 512 out); a projection only where it changes
    (a smaller ``block_filters``). (N, H, W, 3) → (N, H, W, classes).
    """
    inputs, x = segmentation_input(input_shape, output_stride, "DeepLabV3Cascaded")
    features = _encoder(x, backbone, weights, output_stride, multi_grid, {})
    y = features["stride32"]
    rate = 32 // output_stride  # block4's rate
    for block in range(5, 5 + cascade):
        rate *= 2
        y = residual_stage(
            y,
            block_filters,
            3,
            stride=1,
            dilation=rate,
            multi_grid=multi_grid,
            projection=y.shape[-1] != 4 * block_filters,
            name=f"block{block}",
        )
    return segmentation_model(inputs, x, classifier(y, classes), name=f"deeplabv3_cascaded_{backbone}")


@register("deeplabv3plus")
def DeepLabV3Plus(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "xception",
    weights="imagenet",
    output_stride: int = 16,
    multi_grid=(1, 2, 4),
    atrous_rates=None,
    aspp_filters: int = 256,
    low_level_filters: int = 48,
    decoder_filters: int = 256,
    separable: bool | None = None,
    aligned_resize: bool | None = None,
    **backbone_options,
) -> keras.Model:
    """DeepLabv3+: the DeepLabv3 encoder and a decoder on stride-4 features. (N, H, W, 3) → (N, H, W, classes).

    Decoder (paper section 3.1): the low-level stride-4 features reduced to 48 channels by a 1×1 convolution,
    concatenated with the ×4 upsampled encoder output, two 3×3 convolutions (256), 1×1 classifier, ×4 upsampling.
    ``separable`` makes ASPP and decoder 3×3 convolutions depthwise separable: on by default for Xception (the
    paper's setting) and MobileNetV2 (our choice: with plain 3×3 convolutions the stride-4 decoder costs ~100×
    the α 0.5 backbone's multiply-adds). Keras' Xception replaces the paper's aligned Xception-65 (same family,
    fewer layers), padded so that, as with ResNet, the stride-4 and encoder maps are exactly H/4 and H/16 with
    position j on input pixel 4j and 16j.

    Alignment, ``aligned_resize``: each backbone computes cell j of a stride-s map at one pixel, s·j for ResNet
    and Xception (stride-2 layers padded on both sides, as the authors' networks), s·j + s − 1 for Keras'
    MobileNetV2 (stride-2 "same" padding at the bottom/right only). A half-pixel resize by s reads any such grid
    as if it were s·j + (s − 1)/2, so the stride-4 path lands 1.5 pixels and the encoder's 7.5 pixels off (down
    and right for ResNet and Xception, up and left for MobileNetV2), and the decoder concatenates features 6
    pixels apart. No padding of the backbone can fix that: a strided 3×3 unit is centred on a whole pixel, the
    half-pixel centres are halfway between two. With ``aligned_resize=True`` the decoder's and the logits'
    resizes read the backbone's own grid (ResizeLike ``grid`` "top_left" / "bottom_right": output pixel p reads
    cell p/s, or (p + 1)/s − 1, from the stride-4 and the stride-16 map alike), and an impulse comes back on its
    pixel at any input size (tools/alignment_probe.py, tests/models/test_deeplabv3.py). That is the authors'
    geometry: their code (tensorflow/models research/deeplab, model.py) resizes with ``align_corners=True`` on
    sizes 16k + 1 (crops of 513), which puts cell j on pixel 16·j. Only the head's resizes change, so the
    backbone computes what its ImageNet weights were trained on. Default (None): on for Xception, the paper's
    backbone; off for ResNet and MobileNetV2, whose trained kerasseg models (the camvid-mobile zoo entry and
    its checkpoints, which training warm-starts by layer name into a fresh build) learned the half-pixel
    resizes, and whose exports are held to recorded bytes and parity figures. A saved model keeps the grid it
    was built with; a file from before the setting existed resizes half-pixel.
    """
    if separable is None:
        separable = backbone in ("xception", "mobilenetv2")
    grid = _resize_grid(backbone, aligned_resize)
    inputs, x = segmentation_input(input_shape, output_stride, "DeepLabV3Plus")
    features = _encoder(x, backbone, weights, output_stride, multi_grid, backbone_options)
    encoder = aspp(features["stride32"], aspp_filters, _rates(atrous_rates, output_stride), separable=separable)
    low_level = conv_bn_relu(features["stride4"], low_level_filters, 1, name="decoder_low_level")
    y = ResizeLike(grid=grid, name="decoder_upsample")([encoder, low_level])
    y = keras.layers.Concatenate(name="decoder_concat")([y, low_level])
    y = conv_bn_relu(y, decoder_filters, 3, separable=separable, name="decoder_conv1")
    y = conv_bn_relu(y, decoder_filters, 3, separable=separable, name="decoder_conv2")
    return segmentation_model(inputs, x, classifier(y, classes), name=f"deeplabv3plus_{backbone}", grid=grid)
