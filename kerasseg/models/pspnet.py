"""PSPNet: a dilated ResNet, the pyramid pooling module, and an auxiliary loss on the stage-4 features.

Reference: Zhao, Shi, Qi, Wang, Jia, "Pyramid Scene Parsing Network", CVPR 2017.
"""

from __future__ import annotations

import keras

from kerasseg.backbones import build_backbone
from kerasseg.layers import PyramidPooling
from kerasseg.models.blocks import conv_bn_relu
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["PSPNet"]



@register("pspnet")
def PSPNet(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    output_stride: int = 8,
    bins=(1, 2, 3, 6),
    filters: int = 512,
    aux: bool = True,
    aux_filters: int = 256,
    dropout: float = 0.1,
    **backbone_options,
) -> keras.Model:
    """PSPNet: (N, H, W, 3) RGB [0, 255] → logits (N, H, W, classes).

    A backbone dilated to ``output_stride`` 8 (H and W multiples of 8; ``(None, None, 3)`` pads inside); the
    pyramid pooling module on its last features (bins 1, 2, 3, 6, each reduced to 1/4 of the channels),
    concatenated with them; a 3×3 convolution to ``filters`` (512) with batch norm and ReLU, dropout 0.1 and a
    1×1 classifier, bilinearly upsampled to the input. With ``aux`` (the default, for training) an auxiliary
    head on the stage-4 features (``"stride16"``: 3×3 convolution to ``aux_filters`` (256), batch norm, ReLU,
    dropout, 1×1 classifier) is the graph's second output ``"aux"``, used in training only
    (:class:`kerasseg.models.SegmentationModel`): ``model.compile(optimizer, loss)`` then ``model.fit(images, masks)``
    puts the loss on both, the auxiliary one weighted 0.4 (the paper's, section 3.3); ``predict`` returns the logits.
    ``backbone_options`` go to the backbone (e.g. ``alpha`` for "mobilenetv2").

    Deviations from the paper: keras.applications' ResNet (7×7 stem, ImageNet weights available) replaces the
    paper's ResNet with a deep 3×3 stem; bilinear upsampling uses half-pixel centres rather than aligned
    corners; input sizes are multiples of 8 (the paper's 473 is not), so pyramid bins follow adaptive pooling.
    """
    inputs, x = segmentation_input(input_shape, output_stride, "PSPNet")
    features = build_backbone(backbone, x, weights=weights, output_stride=output_stride, **backbone_options)

    y = PyramidPooling(bins, name="pyramid_pooling")(features["stride32"])
    y = conv_bn_relu(y, filters, 3, name="final")
    y = keras.layers.Dropout(dropout, name="final_dropout")(y)
    logits = classifier(y, classes)

    aux_logits = None
    if aux:
        a = conv_bn_relu(features["stride16"], aux_filters, 3, name="aux")
        a = keras.layers.Dropout(dropout, name="aux_dropout")(a)
        aux_logits = classifier(a, classes, name="aux_classifier")
    return segmentation_model(inputs, x, logits, name=f"pspnet_{backbone}", aux=aux_logits)
