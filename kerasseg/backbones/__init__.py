"""Backbones: ImageNet classifiers rebuilt as feature extractors, ``{"stride2": t, ..., "stride32": t}``.

    inputs = keras.Input((None, None, 3))            # RGB in [0, 255]
    features = build_backbone("resnet50", inputs, weights="imagenet", output_stride=16)
    features["stride4"], features["stride32"]        # conv2_block3_out (H/4), conv5_block3_out (H/16)

Each backbone applies its own preprocessing (``kerasseg.layers.BackbonePreprocessing``) first and builds its
layers flat in the caller's functional graph, with keras.applications' layer names. ``output_stride`` 16 or 8
replaces the last strides by dilation (the atrous algorithm); the keys keep the nominal stride of the stage.
ImageNet weights come from Keras' own files through the matching ``keras.applications`` model, by layer name
(:func:`copy_weights_by_name`, which a warm start from a saved model uses too).
"""

from __future__ import annotations

import inspect
import os

from kerasseg.backbones._common import FEATURE_KEYS, OUTPUT_STRIDES
from kerasseg.backbones._weights import check_weights, copy_weights_by_name, file_digest, layer_weights
from kerasseg.backbones.mobilenet import mobilenetv2
from kerasseg.backbones.resnet import resnet50, resnet101
from kerasseg.backbones.vgg import vgg16
from kerasseg.backbones.xception import xception
from kerasseg.facts import BACKBONES, imagenet_files, weights_cache_dir

_BUILDERS = {
    "vgg16": vgg16,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "mobilenetv2": mobilenetv2,
    "xception": xception,
}


def build_backbone(name: str, inputs, *, weights=None, output_stride: int = 32, **options) -> dict:
    """Builds backbone ``name`` on ``inputs`` (RGB [0, 255], (N, H, W, 3)) and returns its features by stride.

    Args:
        name: one of ``BACKBONES`` ("vgg16", "resnet50", "resnet101", "mobilenetv2", "xception").
        inputs: a KerasTensor; H and W may be None.
        weights: ``None`` (random), ``"imagenet"`` (Keras' file, from ``~/.keras/models`` or
            ``$KERAS_HOME/models``, downloaded if absent) or the path to a file that
            ``keras.applications.<Model>(weights=path, include_top=False)`` loads.
        output_stride: 32, 16 or 8; stages past it are dilated instead of strided.
        **options: the family's options: ``alpha`` and ``include_last_conv`` (mobilenetv2), ``multi_grid``
            (resnet), ``dilated_pooling`` (vgg16).

    Returns:
        ``{"stride2": ..., "stride4": ..., "stride8": ..., "stride16": ..., "stride32": ...}`` (vgg16 adds
        ``"stride1"``): the last feature map of each nominal stage; a stage past ``output_stride`` keeps its key
        but has size H/output_stride. The per-family docstrings name the layers.
    """
    if name not in _BUILDERS:
        raise ValueError(f"Unknown backbone {name!r}; valid backbones: {', '.join(_BUILDERS)}")
    # output_stride is checked by the family builder, first thing (each is public on its own).
    valid = [p for p in inspect.signature(_BUILDERS[name]).parameters if p not in ("inputs", "weights", "output_stride")]
    unknown = [key for key in options if key not in valid]
    if unknown:
        raise TypeError(f"{name}: no option {', '.join(map(repr, unknown))}; its options: {', '.join(valid) or 'none'}")
    return _BUILDERS[name](inputs, weights=weights, output_stride=output_stride, **options)


def imagenet_weight_files(verify: bool = True) -> list[dict]:
    """Every Keras ImageNet file that ``weights="imagenet"`` can load, and whether this machine has it.

    The rows of :func:`kerasseg.facts.imagenet_files`, with ``path`` (in :func:`weights_cache_dir`) and
    ``status``: "missing", "present" (not checked: ``verify=False``, or no published hash), "ok" (the hash
    matches) or "corrupt" (it does not).
    """
    rows = []
    for row in imagenet_files():
        path = os.path.join(weights_cache_dir(), row["file"])
        if not os.path.isfile(path):
            status = "missing"
        elif not verify or row["hash"] is None:
            status = "present"
        else:
            status = "ok" if file_digest(path, row["hash"]) == row["hash"] else "corrupt"
        rows.append({**row, "path": path, "status": status})
    return rows


__all__ = [
    "BACKBONES",
    "check_weights",
    "copy_weights_by_name",
    "imagenet_weight_files",
    "layer_weights",
    "FEATURE_KEYS",
    "OUTPUT_STRIDES",
    "build_backbone",
    "mobilenetv2",
    "resnet50",
    "resnet101",
    "vgg16",
    "xception",
]
