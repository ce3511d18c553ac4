"""RefineNet: 4-cascaded multi-path refinement of ResNet features at strides 32, 16, 8 and 4.

Reference: Lin, Milan, Shen, Reid, "RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic
Segmentation", CVPR 2017 (section 3, Fig. 2 and 3). Released code: github.com/guosheng/refinenet.
"""

from __future__ import annotations

import keras

from kerasseg.backbones import build_backbone
from kerasseg.layers import ResizeLike
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

# Only the builder becomes a top-level name (kerasseg.RefineNet); the blocks stay in this module.
__all__ = ["RefineNet"]

# The backbone stages each RefineNet block reads, coarsest first (RefineNet-4 … RefineNet-1).
STAGES = ("stride32", "stride16", "stride8", "stride4")


def _conv3x3(x, filters: int, *, name: str):
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)


def residual_conv_unit(x, *, name: str):
    """RCU: ``x + conv3×3(relu(conv3×3(relu(x))))``, no batch norm (paper Fig. 2(b)); keeps the shape.

    As in the released code the first convolution has a bias and the second none.
    """
    channels = x.shape[-1]
    y = keras.layers.ReLU(name=f"{name}_relu1")(x)
    y = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def multi_resolution_fusion(paths, *, name: str):
    """Fuses paths ordered coarsest to finest (paper Fig. 2(c)): 3×3 convolution of each path to the smallest
    channel count, bilinear upsampling to the last (finest) path's size, sum. A single path passes unchanged.
    """
    if len(paths) == 1:
        return paths[0]
    channels = min(p.shape[-1] for p in paths)
    finest = paths[-1]
    fused = []
    for i, path in enumerate(paths, start=1):
        y = _conv3x3(path, channels, name=f"{name}_path{i}_conv")
        if path is not finest:
            y = ResizeLike(name=f"{name}_path{i}_upsample")([y, finest])
        fused.append(y)
    return keras.layers.Add(name=f"{name}_sum")(fused)


def chained_residual_pooling(x, blocks: int = 2, pool_size: int = 5, *, name: str):
    """CRP (paper Fig. 2(d)): ReLU, then a chain of ``blocks`` pooling blocks — ``pool_size`` max pooling at
    stride 1 and a 3×3 convolution, each fed by the previous one — whose outputs are summed with the input.
    """
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    channels = x.shape[-1]
    total, y = x, x
    for i in range(1, blocks + 1):
        y = keras.layers.MaxPooling2D(pool_size, strides=1, padding="same", name=f"{name}_pool{i}")(y)
        y = _conv3x3(y, channels, name=f"{name}_conv{i}")
        total = keras.layers.Add(name=f"{name}_sum{i}")([total, y])
    return total


def refinenet_block(paths, crp_blocks: int = 2, *, name: str):
    """One RefineNet block (paper Fig. 2(a)): 2 RCUs on each input path (the adaptive convolutions),
    multi-resolution fusion, chained residual pooling and one output RCU. Paths go coarsest first.
    """
    adapted = []
    for i, path in enumerate(paths, start=1):
        for j in (1, 2):
            path = residual_conv_unit(path, name=f"{name}_path{i}_rcu{j}")
        adapted.append(path)
    x = multi_resolution_fusion(adapted, name=f"{name}_fusion")
    x = chained_residual_pooling(x, crp_blocks, name=f"{name}_crp")
    return residual_conv_unit(x, name=f"{name}_output_rcu")


def _check(crp_blocks, filters):
    if int(crp_blocks) < 1:
        raise ValueError(f"RefineNet: crp_blocks must be at least 1, got {crp_blocks}")
    if len(tuple(filters)) != 2:
        raise ValueError(f"RefineNet: filters must be two widths (RefineNet-4, the others), got {filters}")


@register("refinenet")
def RefineNet(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    filters=(512, 256),
    crp_blocks: int = 2,
    **backbone_options,
) -> keras.Model:
    """4-cascaded RefineNet: (N, H, W, 3) RGB [0, 255] → logits (N, H, W, classes); H, W multiples of 32.

    The backbone's features at strides 32, 16, 8 and 4 (undilated) are each adapted by a 3×3 convolution to
    ``filters[0]`` (512) channels for RefineNet-4 and ``filters[1]`` (256) for the others. RefineNet-4 refines
    the stride-32 path alone; RefineNet-3, -2, -1 each fuse the previous block's output with the next finer
    path. After RefineNet-1 (stride 4): two more RCUs, a 3×3 classifier and bilinear upsampling to the input.
    ``crp_blocks`` pooling blocks per chained residual pooling: 2 in the paper (section 3.2), 4 in the released
    models (``crp_blocks=4`` gives their 118M parameters with ResNet-101). ``backbone_options`` go to the
    backbone (e.g. ``alpha`` for "mobilenetv2").

    Details the paper leaves open follow the released code: the 3×3 adaptation convolutions, biases in RCUs,
    the 3×3 classifier. Keras' ResNet-101 (with ImageNet weights) replaces the released Caffe-converted one.
    """
    _check(crp_blocks, filters)
    inputs, x = segmentation_input(input_shape, 32, "RefineNet")
    features = build_backbone(backbone, x, weights=weights, output_stride=32, **backbone_options)

    y = None
    for level, stage in zip((4, 3, 2, 1), STAGES, strict=True):
        width = filters[0] if level == 4 else filters[1]
        path = _conv3x3(features[stage], width, name=f"refinenet{level}_adapt_conv")
        paths = [path] if y is None else [y, path]
        y = refinenet_block(paths, crp_blocks, name=f"refinenet{level}")

    for j in (1, 2):
        y = residual_conv_unit(y, name=f"final_rcu{j}")
    return segmentation_model(inputs, x, classifier(y, classes, 3), name=f"refinenet_{backbone}")
