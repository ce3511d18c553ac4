"""Convolution types and the building blocks named in the papers."""

from kerasseg.layers.blocks import ASPP, conv_bn_relu
from kerasseg.layers.convolutions import BilinearInitializer, SpatiallySeparableConv2D, bilinear_kernel
from kerasseg.layers.pooling import MaxPoolingWithIndices, MaxUnpooling
from kerasseg.layers.preprocessing import BackbonePreprocessing
from kerasseg.layers.pyramid_pooling import AdaptiveAveragePooling, PyramidPooling, adaptive_bin_edges
from kerasseg.layers.resizing import CropLike, PadToMultiple, ResizeLike

__all__ = [
    "ASPP",
    "conv_bn_relu",
    "BackbonePreprocessing",
    "BilinearInitializer",
    "CropLike",
    "MaxPoolingWithIndices",
    "MaxUnpooling",
    "PadToMultiple",
    "PyramidPooling",
    "AdaptiveAveragePooling",
    "adaptive_bin_edges",
    "ResizeLike",
    "SpatiallySeparableConv2D",
    "bilinear_kernel",
]
