"""SegNet: a VGG16 encoder with batch norm, and a mirrored decoder that upsamples with the pooling indices.

Reference: Badrinarayanan, Kendall, Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image
Segmentation", TPAMI 2017.
"""

from __future__ import annotations

import keras

from kerasseg.backbones import check_weights, copy_weights_by_name
from kerasseg.backbones.vgg import VGG16_BLOCKS, vgg16_weights
from kerasseg.layers import BackbonePreprocessing, MaxPoolingWithIndices, MaxUnpooling
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["SegNet"]


def conv_bn_relu(x, filters: int, name: str):
    """3×3 convolution, batch normalisation, ReLU: the unit of both the encoder and the decoder."""
    x = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def encoder(x, widths):
    """VGG16's 13 convolutions (keras.applications names), each with BN + ReLU; every block ends in a 2×2 max
    pooling that records its indices. Returns the pooled map and the indices of each block (block 1 first)."""
    indices = []
    for block, (width, convs) in enumerate(zip(widths, (n for _, n in VGG16_BLOCKS), strict=True), start=1):
        for i in range(1, convs + 1):
            x = conv_bn_relu(x, width, f"block{block}_conv{i}")
        x, idx = MaxPoolingWithIndices(name=f"block{block}_pool")(x)
        indices.append(idx)
    return x, indices


def decoder(x, indices, widths, classes: int, classifier_kernel: int):
    """The encoder mirrored: unpool with the block's indices, then its convolutions in reverse order.

    The last convolution of each decoder block gives the width of the encoder block before it; in block 1 that
    convolution is the classifier (``classes`` channels, no BN/ReLU: softmax is taken in the loss).
    """
    for block in range(len(widths), 0, -1):
        x = MaxUnpooling(name=f"block{block}_unpool")([x, indices[block - 1]])
        convs = VGG16_BLOCKS[block - 1][1]
        for i in range(convs, 0, -1):
            name = f"block{block}_conv{i}_D"
            if i > 1:
                x = conv_bn_relu(x, widths[block - 1], name)
            elif block > 1:
                x = conv_bn_relu(x, widths[block - 2], name)
            else:
                x = classifier(x, classes, classifier_kernel, padding="same", kernel_initializer="he_normal")
    return x


@register("segnet")
def SegNet(
    classes: int = 11,
    input_shape=(None, None, 3),
    *,
    weights=None,
    width_multiplier: float = 1.0,
    classifier_kernel: int = 3,
) -> keras.Model:
    """SegNet: VGG16-BN encoder, decoder that unpools with the encoder's max-pooling indices (no learned upsampling).

    Reference: Badrinarayanan, Kendall, Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder Architecture for
    Image Segmentation", TPAMI 2017.

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of 32 (five 2×2 poolings; any size with
    ``input_shape=(None, None, 3)``: padded inside). Output ``logits`` (batch, H, W, classes).
    ``weights``: ``None`` (He initialisation, as the paper trains on CamVid), ``"imagenet"`` or a path to a
    ``keras.applications.VGG16(include_top=False)`` weights file, copied into the 13 encoder convolutions (the
    batch norms start fresh). ``width_multiplier`` scales every width (1.0 is the paper's; smaller only without
    ImageNet weights). ``classifier_kernel``: the final convolution to ``classes`` is 3×3 in the authors' release
    (conv1_1_D); the paper only says "soft-max classifier", 1 gives a 1×1 classifier.
    Deviations: "same" padding with sizes multiple of 32 instead of Caffe's ceil-mode pooling of odd sizes; input
    caffe preprocessing (BGR minus the ImageNet mean, so ImageNet encoder weights fit); the release fed raw pixels.
    """
    check_weights("segnet", weights)
    if weights is not None and width_multiplier != 1.0:
        raise ValueError(
            f"segnet: ImageNet encoder weights need width_multiplier=1.0, got {width_multiplier}"
        )
    widths = [max(1, round(width * width_multiplier)) for width, _ in VGG16_BLOCKS]
    inputs, x = segmentation_input(input_shape, 32, "segnet")
    h = BackbonePreprocessing("caffe", name="preprocessing")(x)
    h, indices = encoder(h, widths)
    logits = decoder(h, indices, widths, classes, classifier_kernel)
    model = segmentation_model(inputs, x, logits, name="segnet")
    if weights is not None:
        copy_weights_by_name(model, vgg16_weights(weights), f"segnet: weights={weights!r}")
    return model
