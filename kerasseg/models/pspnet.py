"""PSPNet: a dilated ResNet, the pyramid pooling module, and an auxiliary loss on the stage-4 features.

Reference: Zhao, Shi, Qi, Wang, Jia, "Pyramid Scene Parsing Network", CVPR 2017.
"""

from __future__ import annotations

import keras

from kerasseg.backbones import build_backbone
from kerasseg.layers import PyramidPooling, conv_bn_relu
from kerasseg.models.contract import AUX_LOSS_WEIGHT, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["PSPNet"]

PAPERS = {
    "pspnet": {
        "reference": "Zhao et al., Pyramid Scene Parsing Network, CVPR 2017",
        "voc2012_test_miou": 85.4,  # ResNet-101, pretrained on MS-COCO (the seed article's table)
        "voc2012_test_miou_no_coco": 82.6,
        "bins": (1, 2, 3, 6),  # section 3.2
        "aux_loss_weight": AUX_LOSS_WEIGHT,  # the auxiliary loss weight α (section 3.3; the best in Table 3)
        "output_stride": 8,
    },
}
BACKBONES = ("resnet50", "resnet101", "mobilenetv2")


@register(
    "pspnet",
    paper=PAPERS["pspnet"]["reference"],
    year=2017,
    backbones=BACKBONES,
    published=PAPERS["pspnet"],
    small={"backbone": "mobilenetv2", "alpha": 0.35, "filters": 32, "aux_filters": 16},
)
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
    """PSPNet: (N, H, W, 3) RGB [0, 255] → ``{"logits", "aux"}`` (N, H, W, classes) each, or ``logits`` alone.

    A backbone dilated to ``output_stride`` 8 (H and W multiples of 8; ``(None, None, 3)`` pads inside); the
    pyramid pooling module on its last features (bins 1, 2, 3, 6, each reduced to 1/4 of the channels),
    concatenated with them; a 3×3 convolution to ``filters`` (512) with batch norm and ReLU, dropout 0.1 and a
    1×1 classifier, bilinearly upsampled to the input. With ``aux`` (the default, for training) an auxiliary
    head on the stage-4 features (``"stride16"``: 3×3 convolution to ``aux_filters`` (256), batch norm, ReLU,
    dropout, 1×1 classifier) gives the ``"aux"`` output; train it with loss weight ``AUX_LOSS_WEIGHT`` (0.4):

        model.compile(optimizer, loss={"logits": ce, "aux": ce}, loss_weights={"logits": 1.0, "aux": 0.4})
        model.fit(images, {"logits": masks, "aux": masks})

    ``kerasseg.models.inference_model(model)`` drops the auxiliary head for prediction and export.
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
    logits = keras.layers.Conv2D(classes, 1, name="classifier")(y)

    aux_logits = None
    if aux:
        a = conv_bn_relu(features["stride16"], aux_filters, 3, name="aux")
        a = keras.layers.Dropout(dropout, name="aux_dropout")(a)
        aux_logits = keras.layers.Conv2D(classes, 1, name="aux_classifier")(a)
    return segmentation_model(inputs, x, logits, name=f"pspnet_{backbone}", aux=aux_logits)
