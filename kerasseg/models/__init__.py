"""Architectures: one module per family, one builder per variant, each registered by name."""

from kerasseg.models import deeplab, deeplabv3, dilated, fcn, gcn, pspnet, refinenet, segnet, unet
from kerasseg.models.contract import (
    SegmentationModel,
    inference_model,
    segmentation_input,
    segmentation_model,
)
from kerasseg.models.deeplab import *  # noqa: F401,F403
from kerasseg.models.deeplabv3 import *  # noqa: F401,F403
from kerasseg.models.dilated import *  # noqa: F401,F403
from kerasseg.models.fcn import *  # noqa: F401,F403
from kerasseg.models.gcn import *  # noqa: F401,F403
from kerasseg.models.pspnet import *  # noqa: F401,F403
from kerasseg.models.refinenet import *  # noqa: F401,F403
from kerasseg.models.registry import get_model, list_models, model_info, register
from kerasseg.models.segnet import *  # noqa: F401,F403
from kerasseg.models.unet import *  # noqa: F401,F403

_FAMILIES = (deeplab, deeplabv3, dilated, fcn, gcn, pspnet, refinenet, segnet, unet)
__all__ = [
    "SegmentationModel",
    "get_model",
    "inference_model",
    "list_models",
    "model_info",
    "register",
    "segmentation_input",
    "segmentation_model",
] + [name for family in _FAMILIES for name in family.__all__]
