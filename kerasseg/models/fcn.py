"""FCN-32s, FCN-16s and FCN-8s: VGG16 made fully convolutional, with skips from pool4 and pool3.

The classifier's fully connected layers become convolutions covering their input (fc6 → 7×7 conv, fc7 → 1×1
conv) with the same weights, so the network takes any image size and gives a coarse score map; learnable
upsampling (transposed convolution initialised to bilinear interpolation) and skips from pool4 and pool3 then
refine it (the "deep jet").

Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015
(and TPAMI 2017).
"""

from __future__ import annotations

import keras

from kerasseg.backbones import copy_weights_by_name
from kerasseg.backbones.vgg import (
    check_fully_connected_weights,
    convolutionalized,
    fully_connected_as_conv,
    vgg16_weights,
)
from kerasseg.layers import BilinearInitializer
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["FCN8s", "FCN16s", "FCN32s"]

# Skips of the "at-once" FCN-8s (TPAMI 2017): pool4 and pool3 are scaled before scoring.
_AT_ONCE_SCALE = {"pool4": 0.01, "pool3": 0.0001}


def learnable_upsampling(x, classes: int, factor: int, *, trainable: bool = True, name: str):
    """×``factor`` transposed convolution, kernel 2·factor, no bias, initialised to bilinear interpolation.

    With "same" padding output pixel j reads input pixels around (j + ½) / factor − ½: the half-pixel alignment
    of stride-``factor`` pooling, so upsampled scores line up with the pool4 / pool3 scores they are added to.
    """
    return keras.layers.Conv2DTranspose(
        classes,
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearInitializer(),
        trainable=trainable,
        name=name,
    )(x)


def score(x, classes: int, name: str, scale: float | None = None):
    """1×1 class scoring, zero-initialised as in the paper; ``scale`` multiplies the input (at-once skips)."""
    if scale is not None:
        x = keras.layers.Rescaling(scale, name=f"scale_{name.removeprefix('score_')}")(x)
    return classifier(x, classes, name=name, kernel_initializer="zeros")


def FCN(
    classes: int,
    output_stride: int,
    *,
    input_shape=(None, None, 3),
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
    at_once: bool = False,
    name: str,
) -> keras.Model:
    """The FCN family: VGG16, fc6/fc7 as convolutions, then skips down to ``output_stride`` (32, 16 or 8).

    Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of 32 (any size with ``input_shape=(None, None, 3)``:
    padded inside); output ``logits`` (batch, H, W, classes).
    ``weights``: ``"imagenet"`` or a path to a full ``keras.applications.VGG16(include_top=True)`` weights file
    (its 13 convolutions, and its fc1/fc2 reshaped into fc6/fc7), or ``None``. ``fc_units``: width of fc6/fc7
    (4096 in the paper; other widths only without ImageNet weights). Score layers start at zero and upsampling at
    bilinear interpolation; the final upsampling stays fixed, the 2× ones learn (paper, section 4.3).
    ``at_once=True`` scales pool4 by 0.01 and pool3 by 0.0001 before scoring (the at-once FCN of TPAMI 2017);
    the default is the staged network of CVPR 2015.
    Deviation: fc6 uses "same" padding instead of padding the input by 100 pixels and cropping the scores; every
    score map then lines up exactly with the pool map it is fused with, so no crop offsets are needed.
    """
    from kerasseg.backbones import build_backbone

    check_fully_connected_weights(name, weights, fc_units)
    inputs, x = segmentation_input(input_shape, 32, name)
    features = build_backbone("vgg16", x, weights=None)
    pool3, pool4, pool5 = features["stride8"], features["stride16"], features["stride32"]

    h = fully_connected_as_conv(pool5, fc_units, dropout=dropout)
    scores = score(h, classes, "score_fr")
    if output_stride == 32:
        logits = learnable_upsampling(scores, classes, 32, trainable=False, name="upscore")
    else:
        scores = learnable_upsampling(scores, classes, 2, name="upscore2")
        scale = _AT_ONCE_SCALE["pool4"] if at_once else None
        scores = keras.layers.Add(name="fuse_pool4")([scores, score(pool4, classes, "score_pool4", scale)])
        if output_stride == 16:
            logits = learnable_upsampling(scores, classes, 16, trainable=False, name="upscore16")
        else:
            scores = learnable_upsampling(scores, classes, 2, name="upscore_pool4")
            scale = _AT_ONCE_SCALE["pool3"] if at_once else None
            scores = keras.layers.Add(name="fuse_pool3")(
                [scores, score(pool3, classes, "score_pool3", scale)]
            )
            logits = learnable_upsampling(scores, classes, 8, trainable=False, name="upscore8")
    model = segmentation_model(inputs, x, logits, name=name)
    if weights is not None:
        values = convolutionalized(vgg16_weights(weights, include_top=True))
        copy_weights_by_name(model, values, f"{name}: weights={weights!r}")
    return model


@register("fcn32s")
def FCN32s(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
) -> keras.Model:
    """FCN-32s: fc7 scores upsampled 32× in one step (VGG16, output stride 32).

    Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    (batch, H, W, 3) RGB [0, 255], H, W multiples of 32 or ``None`` → ``logits`` (batch, H, W, classes).
    Arguments and the deviation ("same" fc6 instead of 100-pixel padding): see :func:`FCN`.
    """
    return FCN(
        classes,
        32,
        input_shape=input_shape,
        weights=weights,
        fc_units=fc_units,
        dropout=dropout,
        name="fcn32s",
    )


@register("fcn16s")
def FCN16s(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
    at_once: bool = False,
) -> keras.Model:
    """FCN-16s: fc7 scores upsampled 2× and added to pool4 scores, then upsampled 16×.

    Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    (batch, H, W, 3) RGB [0, 255], H, W multiples of 32 or ``None`` → ``logits`` (batch, H, W, classes).
    Arguments and the deviation ("same" fc6 instead of 100-pixel padding): see :func:`FCN`.
    """
    return FCN(
        classes,
        16,
        input_shape=input_shape,
        weights=weights,
        fc_units=fc_units,
        dropout=dropout,
        at_once=at_once,
        name="fcn16s",
    )


@register("fcn8s")
def FCN8s(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
    at_once: bool = False,
) -> keras.Model:
    """FCN-8s: FCN-16s' fused scores upsampled 2× and added to pool3 scores, then upsampled 8×.

    Reference: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    (batch, H, W, 3) RGB [0, 255], H, W multiples of 32 or ``None`` → ``logits`` (batch, H, W, classes).
    Arguments and the deviation ("same" fc6 instead of 100-pixel padding): see :func:`FCN`.
    """
    return FCN(
        classes,
        8,
        input_shape=input_shape,
        weights=weights,
        fc_units=fc_units,
        dropout=dropout,
        at_once=at_once,
        name="fcn8s",
    )
