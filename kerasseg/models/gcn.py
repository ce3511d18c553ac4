"""GCN, "Large Kernel Matters": global convolution on each ResNet stage, boundary refinement, deconvolution.

Reference: Peng, Zhang, Yu, Luo, Sun, "Large Kernel Matters — Improve Semantic Segmentation by Global
Convolutional Network", CVPR 2017 (section 3, Fig. 2 and 3).
"""

from __future__ import annotations

import keras

from kerasseg.backbones import build_backbone
from kerasseg.layers import BilinearInitializer, SpatiallySeparableConv2D
from kerasseg.models.contract import segmentation_input, segmentation_model
from kerasseg.models.registry import register

# Only the builder becomes a top-level name (kerasseg.GCN); the blocks stay in this module.
__all__ = ["GCN"]

# ResNet's res-2 … res-5 feature maps, finest first.
STAGES = ("stride4", "stride8", "stride16", "stride32")


def global_convolution(x, filters: int, kernel_size: int = 15, *, use_bias: bool = True, name: str):
    """GCN module (paper Fig. 2(b)): (k×1 then 1×k) + (1×k then k×1), summed; no nonlinearity inside.

    A dense connection over a k × k window with 2·k·(C·C' + C'·C') weights instead of the k²·C·C' of one k×k
    convolution, C → C' = ``filters`` channels. (N, h, w, C) → (N, h, w, filters).
    """
    common = dict(filters=filters, kernel_size=kernel_size, use_bias=use_bias)
    left = SpatiallySeparableConv2D(order="kx1_1xk", name=f"{name}_left", **common)(x)
    right = SpatiallySeparableConv2D(order="1xk_kx1", name=f"{name}_right", **common)(x)
    return keras.layers.Add(name=f"{name}_sum")([left, right])


def boundary_refinement(x, *, name: str):
    """BR block (paper Fig. 2(c)): ``x + conv3×3(relu(conv3×3(x)))``, a residual that sharpens boundaries."""
    channels = x.shape[-1]
    y = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu")(y)
    y = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def deconvolution(x, *, name: str):
    """×2 transposed convolution (4×4, stride 2) initialised to bilinear upsampling, learned further."""
    return keras.layers.Conv2DTranspose(
        x.shape[-1],
        4,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearInitializer(),
        name=name,
    )(x)


@register("gcn")
def GCN(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    kernel_size: int = 15,
    **backbone_options,
) -> keras.Model:
    """GCN: (N, H, W, 3) RGB [0, 255] → logits (N, H, W, classes); H and W multiples of 32.

    Each undilated backbone stage (strides 4, 8, 16, 32) gives a score map through a global convolution
    (k = ``kernel_size``, ``classes`` channels) and a boundary refinement. From the coarsest up, each score map
    is upsampled ×2 by a deconvolution, summed with the next finer one and refined by BR; the stride-4 result
    goes through two more deconvolution + BR steps to the input resolution (paper Fig. 2(a)): 4 GCN modules,
    9 BR blocks, 5 deconvolutions. ``backbone_options`` go to the backbone (e.g. ``alpha`` for "mobilenetv2").

    Deviation: the paper's final models use ResNet-152; the default here is ResNet-101, the deepest
    backbone kerasseg provides.
    """
    inputs, x = segmentation_input(input_shape, 32, "GCN")
    features = build_backbone(backbone, x, weights=weights, output_stride=32, **backbone_options)
    scores = {}
    for stage in STAGES:
        s = global_convolution(features[stage], classes, kernel_size, name=f"gcn_{stage}")
        scores[stage] = boundary_refinement(s, name=f"br_{stage}")

    y = scores["stride32"]
    for coarse, fine in zip(STAGES[:0:-1], STAGES[-2::-1], strict=True):
        y = deconvolution(y, name=f"deconv_{coarse}")
        y = keras.layers.Add(name=f"fuse_{fine}")([y, scores[fine]])
        y = boundary_refinement(y, name=f"br_fuse_{fine}")
    for stride in (2, 1):
        y = deconvolution(y, name=f"deconv_to_stride{stride}")
        y = boundary_refinement(y, name=f"br_stride{stride}")
    return segmentation_model(inputs, x, y, name=f"gcn_{backbone}")
