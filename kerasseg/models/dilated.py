"""Yu & Koltun's dilated convolution network: the VGG16 front end at output stride 8, and the context module.

Reference: Yu, Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasseg.backbones import copy_weights_by_name
from kerasseg.backbones.vgg import (
    check_fully_connected_weights,
    convolutionalized,
    fully_connected_as_conv,
    vgg16_weights,
)
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["DilatedContextNet", "DilatedFrontEnd"]

# Table 1: dilation of the seven 3×3 layers, then the 1×1 output layer; widths of the large module in units of C.
CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1)
LARGE_CONTEXT_WIDTHS = (2, 2, 4, 8, 16, 32, 32)
CONTEXT_VARIANTS = ("basic", "large")


@keras.saving.register_keras_serializable(package="kerasseg")
class ContextIdentityInitializer(keras.initializers.Initializer):
    """Identity initialisation of a context-module layer from c_in to c_out channels, C = ``classes``.

    The centre tap connects output b to input a with weight C / c_out when ⌊a·C / c_in⌋ = ⌊b·C / c_out⌋ (the
    same class group), every other weight is ε ~ N(0, ``stddev``²). With c_in = c_out = C and ``stddev=0`` this
    is the basic module's identity k(t, a) = 1[t = 0]·1[a = b]; in the large module a map of class c is spread
    over the c_out / C channels of its group with weight C / c_out each, and the last layer sums them back.
    Reference: Yu, Koltun, ICLR 2016, section 3 (identity initialisation).
    """

    def __init__(self, classes: int, stddev: float = 0.0, seed: int | None = None):
        self.classes = int(classes)
        self.stddev = float(stddev)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        kh, kw, c_in, c_out = shape
        c = self.classes
        if c_in % c or c_out % c:
            raise ValueError(
                f"ContextIdentityInitializer: {c} classes must divide both widths, got {c_in} → {c_out} channels"
            )
        same_group = (np.arange(c_in)[:, None] * c // c_in) == (np.arange(c_out)[None, :] * c // c_out)
        kernel = (
            np.random.default_rng(self.seed).normal(0.0, self.stddev, shape)
            if self.stddev
            else np.zeros(shape)
        )
        centre = kernel[kh // 2, kw // 2]
        centre[same_group] = c / c_out
        return keras.ops.convert_to_tensor(kernel.astype("float32"), dtype=dtype)

    def get_config(self):
        return {"classes": self.classes, "stddev": self.stddev, "seed": self.seed}


def context_module(
    x, classes: int, *, variant: str = "basic", identity_noise: float | None = None, seed=None
):
    """The context module: C feature maps in, C out, with a 67×67 receptive field and no loss of resolution.

    Seven 3×3 convolutions with dilations 1, 1, 2, 4, 8, 16, 1, each followed by the truncation max(·, 0), then a
    1×1 convolution to C channels (Table 1). ``"basic"`` keeps C channels throughout; ``"large"`` widens them to
    2C, 2C, 4C, 8C, 16C, 32C, 32C. Identity initialisation: training starts from a module that passes the front
    end's scores through unchanged where they are non-negative (the truncation sets negative ones to 0).
    ``identity_noise``: σ of the noise ε as a fraction of C / c_out; the paper gives σ ≪ C / c_out and needs it to
    break the symmetry of the large module's channel groups. Default 0 for basic, 0.01 for large.
    Deviation: "same" zero padding per layer instead of padding the module's input by 33 pixels once.
    """
    if variant not in CONTEXT_VARIANTS:
        raise ValueError(f"Unknown context module {variant!r}; valid variants: {', '.join(CONTEXT_VARIANTS)}")
    if identity_noise is None:
        identity_noise = 0.0 if variant == "basic" else 0.01
    widths = (1,) * 7 if variant == "basic" else LARGE_CONTEXT_WIDTHS
    rng = np.random.default_rng(seed)
    for layer, (dilation, width) in enumerate(zip(CONTEXT_DILATIONS, widths, strict=True), start=1):
        init = ContextIdentityInitializer(classes, identity_noise / width, int(rng.integers(2**31)))
        x = keras.layers.Conv2D(
            width * classes,
            3,
            padding="same",
            dilation_rate=dilation,
            activation="relu",
            kernel_initializer=init,
            name=f"context_conv{layer}",
        )(x)
    init = ContextIdentityInitializer(classes, identity_noise, int(rng.integers(2**31)))
    return classifier(x, classes, name="context_final", kernel_initializer=init)


def front_end(x, classes: int, *, fc_units: int, dropout: float):
    """VGG16 without pool4 and pool5: conv5 dilated 2, fc6 (7×7) dilated 4, fc7, final 1×1 (output stride 8)."""
    from kerasseg.backbones import build_backbone

    features = build_backbone("vgg16", x, weights=None, output_stride=8, dilated_pooling="remove")
    h = fully_connected_as_conv(features["stride32"], fc_units, fc6_kernel=7, fc6_dilation=4, dropout=dropout)
    return classifier(h, classes, name="final", kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))


@register("dilated_frontend")
def DilatedFrontEnd(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
) -> keras.Model:
    """The front-end module: VGG16 with pool4/pool5 removed and later convolutions dilated, output stride 8.

    Reference: Yu, Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016, section 4.

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of 8 (any size with ``input_shape=(None, None, 3)``:
    padded inside); the scores at H/8 are upsampled bilinearly to ``logits`` (batch, H, W, classes).
    ``weights``: ``"imagenet"`` or a path to a full ``keras.applications.VGG16(include_top=True)`` weights file
    (convolutions, and fc1/fc2 as fc6/fc7 exactly as in FCN), or ``None``. ``fc_units``: fc6/fc7 width (4096).
    Deviations: "same" padding instead of valid convolutions on a reflection-padded input; bilinear upsampling is
    the contract's resize (as the release's fixed bilinear deconvolution).
    """
    check_fully_connected_weights("dilated_frontend", weights, fc_units)
    inputs, x = segmentation_input(input_shape, 8, "dilated_frontend")
    logits = front_end(x, classes, fc_units=fc_units, dropout=dropout)
    model = segmentation_model(inputs, x, logits, name="dilated_frontend")
    if weights is not None:
        values = convolutionalized(vgg16_weights(weights, include_top=True))
        copy_weights_by_name(model, values, f"dilated_frontend: weights={weights!r}")
    return model


@register("dilated_context")
def DilatedContextNet(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 4096,
    dropout: float = 0.5,
    context: str = "large",
    identity_noise: float | None = None,
) -> keras.Model:
    """The front end followed by the context module (``context="large"`` as on VOC, or ``"basic"``).

    Reference: Yu, Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016, sections 3-5.

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of 8 (or ``None``: padded inside) → ``logits``
    (batch, H, W, classes). The context module refines the front end's C score maps at H/8 and starts as the
    identity on them (see :func:`context_module`; ``identity_noise`` as there). Other arguments as
    :func:`DilatedFrontEnd`; ``weights`` fill the front end, the context module keeps its identity initialisation.
    Deviation: the paper trains the context module on a frozen front end; here both are one model (freeze the
    front end's layers for the paper's schedule).
    """
    check_fully_connected_weights("dilated_context", weights, fc_units)
    inputs, x = segmentation_input(input_shape, 8, "dilated_context")
    scores = front_end(x, classes, fc_units=fc_units, dropout=dropout)
    logits = context_module(scores, classes, variant=context, identity_noise=identity_noise)
    model = segmentation_model(inputs, x, logits, name="dilated_context")
    if weights is not None:
        values = convolutionalized(vgg16_weights(weights, include_top=True))
        copy_weights_by_name(model, values, f"dilated_context: weights={weights!r}")
    return model
