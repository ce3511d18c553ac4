"""VGG16's convolutional layers (as keras.applications builds them), plain or with the dilated front ends.

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015.
Dilated variants: Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs"
(DeepLab v1), ICLR 2015; Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
"""

from __future__ import annotations

import keras
from keras import layers

from kerasseg.backbones._common import atrous_rate, check_output_stride
from kerasseg.backbones._weights import load_backbone_weights
from kerasseg.facts import BACKBONES
from kerasseg.layers import BackbonePreprocessing

DILATED_POOLING = ("stride1", "remove")
_WIDTHS = (64, 128, 256, 512, 512)
_CONVS = (2, 2, 3, 3, 3)


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
    for block, (width, convs) in enumerate(zip(_WIDTHS, _CONVS, strict=True), start=1):
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

    def reference(path):
        return keras.applications.VGG16(include_top=False, weights=path, input_shape=(224, 224, 3))

    load_backbone_weights(
        "vgg16",
        inputs,
        features,
        weights,
        reference=reference,
        file_name=meta["weights_file"],
        url_dir=meta["weights_url_dir"],
        file_hash=meta["weights_hash"],
    )
    return features


def _pool(x, nominal_stride: int, output_stride: int, dilated_pooling: str, name: str):
    if output_stride == 32:
        return layers.MaxPooling2D(2, strides=2, name=name)(x)
    if dilated_pooling == "remove":
        return x if nominal_stride > output_stride else layers.MaxPooling2D(2, strides=2, name=name)(x)
    stride = 2 if nominal_stride <= output_stride else 1
    return layers.MaxPooling2D(3, strides=stride, padding="same", name=name)(x)
