"""kerasseg: semantic-segmentation architectures for Keras 3, from FCN to DeepLabv3+, shipped as TFLite.

    import kerasseg
    model = kerasseg.PSPNet(classes=21)
    model.compile("adam", loss=kerasseg.losses.SegmentationCrossEntropy())
    model.fit(images, masks)
"""

import os as _os

_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from kerasseg import data, evaluation, export, layers, losses, metrics, training  # noqa: E402,F401
from kerasseg.models import *  # noqa: E402,F401,F403
from kerasseg.models import get_model, inference_model, list_models, model_info  # noqa: E402,F401
from kerasseg.zoo import load  # noqa: E402,F401

__version__ = "0.1.0"
