"""Backbones: ImageNet classifiers rebuilt as feature extractors, ``{"stride2": t, ..., "stride32": t}``.

    inputs = keras.Input((None, None, 3))            # RGB in [0, 255]
    features = build_backbone("resnet50", inputs, weights="imagenet", output_stride=16)
    features["stride4"], features["stride32"]        # conv2_block3_out (H/4), conv5_block3_out (H/16)

Each backbone applies its own preprocessing (``kerasseg.layers.BackbonePreprocessing``) first and builds its
layers flat in the caller's functional graph, with keras.applications' layer names. ``output_stride`` 16 or 8
replaces the last strides by dilation (the atrous algorithm); the keys keep the nominal stride of the stage.
ImageNet weights come from Keras' own files through the matching ``keras.applications`` model, by layer name.
"""

from __future__ import annotations

import os

from kerasseg.backbones._common import FEATURE_KEYS, OUTPUT_STRIDES, check_output_stride
from kerasseg.backbones._weights import KERAS_APPLICATIONS_URL, file_digest, weights_cache_dir
from kerasseg.backbones.mobilenet import MOBILENET_BACKBONES, mobilenetv2
from kerasseg.backbones.resnet import RESNET_BACKBONES, resnet50, resnet101
from kerasseg.backbones.vgg import VGG_BACKBONES, vgg16
from kerasseg.backbones.xception import XCEPTION_BACKBONES, xception

# name → facts: keras.applications constructor, preprocessing mode, weight file, published no-top parameters.
BACKBONES = {**VGG_BACKBONES, **RESNET_BACKBONES, **MOBILENET_BACKBONES, **XCEPTION_BACKBONES}

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
    check_output_stride(name, output_stride)
    return _BUILDERS[name](inputs, weights=weights, output_stride=output_stride, **options)


def imagenet_weight_files() -> list[dict]:
    """Every Keras ImageNet file that ``weights="imagenet"`` can load, and whether this machine has it.

    Each row: ``backbone``, ``alpha`` (MobileNetV2 width, else None), ``file``, ``url``, ``hash`` (the published
    MD5 or SHA-256, None where Keras publishes none), ``path`` (in :func:`weights_cache_dir`) and ``status``:
    "ok" (present, hash matches), "present" (no hash to check), "corrupt" (hash differs) or "missing".
    """
    rows = []
    for name, meta in BACKBONES.items():
        alphas = meta.get("imagenet_alphas", (None,))
        for alpha in alphas:
            file = meta["weights_file"].format(alpha=alpha) if alpha else meta["weights_file"]
            known = meta["weights_hash"]
            file_hash = known.get(alpha) if isinstance(known, dict) else known
            path = os.path.join(weights_cache_dir(), file)
            if not os.path.isfile(path):
                status = "missing"
            elif file_hash is None:
                status = "present"
            else:
                status = "ok" if file_digest(path, file_hash) == file_hash else "corrupt"
            url = KERAS_APPLICATIONS_URL + meta["weights_url_dir"] + file
            rows.append(dict(backbone=name, alpha=alpha, file=file, url=url, hash=file_hash, path=path, status=status))
    return rows


__all__ = [
    "BACKBONES",
    "imagenet_weight_files",
    "FEATURE_KEYS",
    "OUTPUT_STRIDES",
    "build_backbone",
    "mobilenetv2",
    "resnet50",
    "resnet101",
    "vgg16",
    "xception",
]
