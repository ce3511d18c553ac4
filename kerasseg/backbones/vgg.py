"""VGG16's convolutional layers (as keras.applications builds them), plain or with the dilated front ends, and
its fully connected layers as convolutions (fc6, fc7) with the ImageNet classifier's weights.

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015.
Dilated variants: Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs"
(DeepLab v1), ICLR 2015; Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
Fully connected layers as convolutions: Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 3.1.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import layers

from kerasseg.backbones._common import atrous_rate, check_output_stride
from kerasseg.backbones._weights import check_weights, layer_weights, load_backbone_weights, reference_model
from kerasseg.facts import BACKBONES
from kerasseg.layers import BackbonePreprocessing

DILATED_POOLING = ("stride1", "remove")
# The 13 convolutions by block: (width, number of 3×3 convolutions); SegNet's encoder and decoder follow them too.
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg16(inputs, *, weights=None, output_stride: int = 32, dilated_pooling: str = "stride1") -> dict:
    """VGG16 features on RGB [0, 255]: ``"stride1"`` block1_conv2, ``"stride2"`` … ``"stride32"`` the pool outputs.

    ``output_stride=32`` is the plain network (2×2 max pools, keras.applications' ``VGG16``). For 16 or 8:

    - ``dilated_pooling="stride1"`` (DeepLab v1 / DeepLab-LargeFOV): the pools are 3×3 "same" as in DeepLab's
      Caffe model, stride 2 up to the output stride and stride 1 past it; the convolutions after a stride-1
      pool are dilated (conv5 by 2 at output stride 8).
    - ``dilated_pooling="remove"`` (Yu & Koltun's front end): the pools past the output stride are removed and
      the later convolutions dilated (conv5 by 2 at output stride 8); ``"stride16"`` / ``"stride32"`` are then
      block4_conv3 / block5_conv3. Yu & Koltun also drop the padding of intermediate feature maps; the
      convolutions here keep "same" padding, so sizes stay H/stride.

    Keys keep their nominal stride; at output stride 8 ``"stride16"`` and ``"stride32"`` have size H/8.
    Weights: ``None``, ``"imagenet"`` (Keras' file) or a path to a file that ``keras.applications`` loads.
    """
    meta = BACKBONES["vgg16"]
    output_stride = check_output_stride("vgg16", output_stride)
    if dilated_pooling not in DILATED_POOLING:
        raise ValueError(
            f"vgg16: unknown dilated_pooling {dilated_pooling!r}; valid: {', '.join(DILATED_POOLING)}"
        )
    x = BackbonePreprocessing(meta["preprocessing"], name="preprocessing")(inputs)
    features, stride = {}, 1
    for block, (width, convs) in enumerate(VGG16_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(
                width,
                3,
                padding="same",
                dilation_rate=atrous_rate(stride, output_stride),
                activation="relu",
                name=f"block{block}_conv{conv}",
            )(x)
        if block == 1:
            features["stride1"] = x
        x = _pool(x, stride * 2, output_stride, dilated_pooling, name=f"block{block}_pool")
        stride *= 2
        features[f"stride{stride}"] = x

    load_backbone_weights("vgg16", inputs, features, weights, reference=_keras_vgg16, **_weights_file(False))
    return features


def vgg16_weights(weights, *, include_top: bool = False) -> dict[str, list[np.ndarray]]:
    """The weights of ``keras.applications.VGG16`` by layer name: its 13 ``block*_conv*`` layers, and with
    ``include_top`` its classifier's ``fc1``, ``fc2`` and ``predictions``. ``weights``: ``"imagenet"`` (Keras' file,
    its published hash checked) or a path to a file that ``VGG16(include_top=include_top)`` loads."""
    reference = functools.partial(_keras_vgg16, include_top=include_top)
    return layer_weights(reference_model("vgg16", weights, reference, **_weights_file(include_top)))


def _keras_vgg16(path, include_top: bool = False) -> keras.Model:
    return keras.applications.VGG16(include_top=include_top, weights=path, input_shape=(224, 224, 3))


def _weights_file(include_top: bool) -> dict:
    meta = BACKBONES["vgg16"]
    top = "top_" if include_top else ""
    return {
        "file_name": meta[f"{top}weights_file"],
        "url_dir": meta["weights_url_dir"],
        "file_hash": meta[f"{top}weights_hash"],
    }


def fully_connected_as_conv(
    x, units: int, *, fc6_kernel: int = 7, fc6_dilation: int = 1, dropout: float = 0.5, prefix: str = ""
):
    """fc6 (k×k conv, ``units``) → ReLU → dropout → fc7 (1×1 conv, ``units``) → ReLU → dropout.

    With k = 7 on pool5 and 4096 units these are VGG16's fc1 and fc2 as convolutions that cover their input
    (:func:`convolutionalized` gives their weights); layers are named ``{prefix}fc6``, ``{prefix}drop6``, ...
    """
    x = layers.Conv2D(
        units, fc6_kernel, padding="same", dilation_rate=fc6_dilation, activation="relu", name=f"{prefix}fc6"
    )(x)
    x = layers.Dropout(dropout, name=f"{prefix}drop6")(x)
    x = layers.Conv2D(units, 1, activation="relu", name=f"{prefix}fc7")(x)
    return layers.Dropout(dropout, name=f"{prefix}drop7")(x)


def convolutionalized(values: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """VGG16 classifier weights (:func:`vgg16_weights` with ``include_top``) with fc1 and fc2 as the convolutions fc6
    (7, 7, 512, 4096) and fc7 (1, 1, 4096, 4096), and without the 1000-way ``predictions``.

    The Dense fc1 reads the pool5 map (7, 7, 512) flattened in height, width, channel order, so a reshape of its
    (25088, 4096) kernel is exactly the 7×7 convolution that computes the same outputs.
    """
    convolutions = {name: w for name, w in values.items() if name not in ("fc1", "fc2", "predictions")}
    kernel, bias = values["fc1"]
    fc6 = [kernel.reshape(7, 7, 512, kernel.shape[-1]), bias]
    kernel, bias = values["fc2"]
    fc7 = [kernel.reshape(1, 1, *kernel.shape), bias]
    return {**convolutions, "fc6": fc6, "fc7": fc7}


def check_fully_connected_weights(model: str, weights, fc_units: int) -> None:
    """Before a build: ``weights`` are None, "imagenet" or a file, and fc6/fc7 keep VGG16's 4096 units with them."""
    check_weights(model, weights)
    if fc_units != 4096 and weights is not None:
        raise ValueError(f"{model}: ImageNet fc6/fc7 weights need fc_units=4096, got fc_units={fc_units}")


def _pool(x, nominal_stride: int, output_stride: int, dilated_pooling: str, name: str):
    if output_stride == 32:
        return layers.MaxPooling2D(2, strides=2, name=name)(x)
    if dilated_pooling == "remove":
        return x if nominal_stride > output_stride else layers.MaxPooling2D(2, strides=2, name=name)(x)
    stride = 2 if nominal_stride <= output_stride else 1
    return layers.MaxPooling2D(3, strides=stride, padding="same", name=name)(x)
