"""kerasseg: semantic-segmentation architectures for Keras 3, from FCN to DeepLabv3+, shipped as TFLite.

    import kerasseg
    model = kerasseg.PSPNet(classes=21)
    model.compile()                       # the papers' recipe: SGD, cross-entropy ignoring 255, mean IoU
    model.fit(images, masks)
    model.save("pspnet.keras")
    model = keras.saving.load_model("pspnet.keras")

Importing kerasseg registers every layer, loss, metric and model class it saves with Keras (as keras-hub does),
so ``keras.saving.load_model`` reads kerasseg's files in either import order. The data, evaluation, export,
training and zoo modules load on first use (PEP 562). The ``kerasseg`` command is the separate package
``kerasseg_cli``, which imports this one only for the commands that need TensorFlow.
"""

import importlib as _importlib
import os as _os

_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"

from kerasseg import layers, losses, metrics, models  # noqa: E402,F401  (registers the serializable classes)
from kerasseg.models import *  # noqa: E402,F401,F403

_SUBMODULES = ("data", "evaluation", "export", "training", "zoo")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _importlib.import_module(f"kerasseg.{name}")
    if name == "load":
        from kerasseg.zoo import load

        return load
    raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBMODULES, "load"})
