"""Convolution types and the building blocks named in the papers."""

from kerasseg.layers.blocks import ASPP, conv_bn_relu
from kerasseg.layers.convolutions import BilinearInitializer, SpatiallySeparableConv2D, bilinear_kernel
from kerasseg.layers.preprocessing import BackbonePreprocessing
from kerasseg.layers.resizing import CropLike, PadToMultiple, ResizeLike

__all__ = [
    "ASPP",
    "conv_bn_relu",
    "BackbonePreprocessing",
    "BilinearInitializer",
    "CropLike",
    "PadToMultiple",
    "ResizeLike",
    "SpatiallySeparableConv2D",
    "bilinear_kernel",
]
