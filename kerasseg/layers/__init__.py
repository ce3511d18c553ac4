"""The layers Keras lacks: bilinear initialisation, spatially separable convolution, pooling with indices, pyramid
pooling with adaptive bins, the backbones' preprocessing and the contract's resizing. A family's blocks that Keras'
layers compose are functions beside the family (``kerasseg.models.deeplabv3.aspp``, ...)."""

from kerasseg.layers.convolutions import BilinearInitializer, SpatiallySeparableConv2D, bilinear_kernel
from kerasseg.layers.pooling import MaxPoolingWithIndices, MaxUnpooling
from kerasseg.layers.preprocessing import BackbonePreprocessing
from kerasseg.layers.pyramid_pooling import AdaptiveAveragePooling, PyramidPooling, adaptive_bin_edges
from kerasseg.layers.resizing import CropLike, PadToMultiple, ResizeLike

__all__ = [
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
