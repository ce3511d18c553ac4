"""kerasseg: semantic-segmentation architectures for Keras 3, from FCN to DeepLabv3+, shipped as TFLite.

    import kerasseg
    model = kerasseg.PSPNet(classes=21)
    model.compile("adam", loss=kerasseg.losses.SegmentationCrossEntropy())
    model.fit(images, masks)

Submodules and builders are imported on first use (PEP 562), so ``import kerasseg`` and ``kerasseg --help``
do not load TensorFlow. Load ``.keras`` files with ``kerasseg.evaluation.load_model`` or ``kerasseg.load``: plain
``keras.saving.load_model`` knows kerasseg's layers once ``kerasseg.models`` is imported, which ``import kerasseg``
does at once when Keras is already loaded.
"""

import importlib as _importlib
import os as _os
import sys as _sys

_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"

_SUBMODULES = ("data", "evaluation", "export", "layers", "losses", "metrics", "models", "training", "zoo")
# Names that live outside kerasseg.models; every other public name is a kerasseg.models name.
_ELSEWHERE = {"load": "kerasseg.zoo"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _importlib.import_module(f"kerasseg.{name}")
    if name.startswith("_"):
        raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")
    module = _importlib.import_module(_ELSEWHERE.get(name, "kerasseg.models"))
    if name not in getattr(module, "__all__", ()) and not (name in _ELSEWHERE and hasattr(module, name)):
        raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    from kerasseg import models

    return sorted({*globals(), *_SUBMODULES, *_ELSEWHERE, *models.__all__})


if "keras" in _sys.modules:  # TensorFlow is loaded already: register the layers now, for keras.saving.load_model
    _importlib.import_module("kerasseg.models")
