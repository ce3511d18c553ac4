"""DeepLab v1 (LargeFOV) and DeepLab v2 (ASPP, image pyramid): atrous convolution at output stride 8.

References: Chen, Papandreou, Kokkinos, Murphy, Yuille, "Semantic Image Segmentation with Deep Convolutional Nets
and Fully Connected CRFs", ICLR 2015 (v1); "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets,
Atrous Convolution, and Fully Connected CRFs", TPAMI 2017 (v2). DeepLabv3/v3+ live in ``deeplabv3.py``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasseg.backbones import check_weights, copy_weights_by_name
from kerasseg.backbones.vgg import convolutionalized, fully_connected_as_conv, vgg16_weights
from kerasseg.facts import PAPERS
from kerasseg.layers import ResizeLike
from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["DeepLabV1LargeFOV", "DeepLabV2"]

ASPP_BRANCHES = ("single", "fc")


@keras.saving.register_keras_serializable(package="kerasseg")
class ImagePyramidLevel(keras.layers.Layer):
    """Resizes images by ``scale`` (bilinear, half-pixel centres): one level of DeepLab's image pyramid.

    (batch, H, W, C) → (batch, ⌈scale·H⌉, ⌈scale·W⌉, C); the rounding gives DeepLab's 321 → 241 / 161.
    """

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < scale:
            raise ValueError(f"image pyramid scale must be positive, got {scale}")
        self.scale = float(scale)

    def _scaled(self, n):
        if isinstance(n, int):
            return math.ceil(n * self.scale)
        return ops.cast(ops.ceil(ops.cast(n, "float32") * self.scale), "int32")

    def call(self, x):
        shape = ops.shape(x)
        return ops.image.resize(x, (self._scaled(shape[1]), self._scaled(shape[2])), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        def scaled(n):
            return None if n is None else math.ceil(n * self.scale)

        return (input_shape[0], scaled(input_shape[1]), scaled(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def large_fov_head(x, classes: int, *, fc_units: int, dropout: float):
    """fc6 3×3 at rate 12 (1024), fc7 1×1 (1024), each ReLU + dropout, then fc8 1×1 to classes."""
    x = fully_connected_as_conv(x, fc_units, fc6_kernel=3, fc6_dilation=12, dropout=dropout)
    return classifier(x, classes, name="fc8", kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))


def decimated(values: dict, fc_units: int) -> dict:
    """VGG16's convolutionalized weights (:func:`kerasseg.backbones.vgg.convolutionalized`) for LargeFOV: the
    convolutions as they are, fc6/fc7 subsampled by decimation.

    fc6's 7×7 kernel keeps taps 0, 3, 6 in each direction (3×3), and fc6/fc7 keep every (4096 / fc_units)-th
    channel: DeepLab v1 "subsamples (by simple decimation)" the first FC layer; the channel decimation is ours.
    """
    values = dict(values)
    step = 4096 // fc_units
    kernel, bias = values["fc6"]
    values["fc6"] = [kernel[::3, ::3, :, ::step], bias[::step]]
    kernel, bias = values["fc7"]
    values["fc7"] = [kernel[:, :, ::step, ::step], bias[::step]]
    return values


@register("deeplabv1_largefov")
def DeepLabV1LargeFOV(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    weights="imagenet",
    fc_units: int = 1024,
    dropout: float = 0.5,
) -> keras.Model:
    """DeepLab-LargeFOV: VGG16 with pool4/pool5 at stride 1, conv5 at rate 2, fc6 3×3 at rate 12, output stride 8.

    Reference: Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs",
    ICLR 2015, section 4.1 and Table 2 (DeepLab-CRF-LargeFOV).

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of 8 (or ``None``: padded inside); fc8 scores at
    H/8 are upsampled bilinearly to ``logits`` (batch, H, W, classes). ``weights``: ``"imagenet"`` or a path to a
    full ``keras.applications.VGG16(include_top=True)`` file (fc6/fc7 decimated to 3×3 and ``fc_units``), or
    ``None``. ``fc_units``: fc6/fc7 width (1024; must divide 4096 with ImageNet weights).
    All five poolings are 3×3 as in the release (stride 2, then stride 1 for pool4/pool5), "same" padded.
    Deviation: the fully connected CRF post-processing is not part of the network.
    """
    check_weights("deeplabv1_largefov", weights)
    if weights is not None and 4096 % fc_units:
        raise ValueError(f"deeplabv1_largefov: ImageNet fc6/fc7 need fc_units dividing 4096, got {fc_units}")
    from kerasseg.backbones import build_backbone

    inputs, x = segmentation_input(input_shape, 8, "deeplabv1_largefov")
    features = build_backbone("vgg16", x, weights=None, output_stride=8, dilated_pooling="stride1")
    logits = large_fov_head(features["stride32"], classes, fc_units=fc_units, dropout=dropout)
    model = segmentation_model(inputs, x, logits, name="deeplabv1_largefov")
    if weights is not None:
        values = decimated(convolutionalized(vgg16_weights(weights, include_top=True)), fc_units)
        copy_weights_by_name(model, values, f"deeplabv1_largefov: weights={weights!r}")
    return model


def atrous_spatial_pyramid_pooling(
    x,
    classes: int,
    *,
    atrous_rates=(6, 12, 18, 24),
    branch: str = "single",
    fc_units: int = 1024,
    dropout: float = 0.5,
):
    """ASPP of DeepLab v2: parallel atrous branches on the same features, their class scores summed.

    ``branch="single"``: each branch is one 3×3 convolution at rate r straight to the classes (the authors'
    ResNet-101 release, fc1_voc12_c0…c3). ``"fc"``: each branch is fc6 3×3 at rate r (``fc_units``), fc7 1×1
    (``fc_units``), fc8 1×1 to classes, as drawn for ASPP-L on VGG-16 (TPAMI 2017, Fig. 4(b)).
    (batch, h, w, C) → (batch, h, w, classes).
    """
    if branch not in ASPP_BRANCHES:
        raise ValueError(f"Unknown ASPP branch {branch!r}; valid branches: {', '.join(ASPP_BRANCHES)}")
    scores = []
    init = keras.initializers.RandomNormal(stddev=0.01)
    for rate in atrous_rates:
        name = f"aspp_rate{rate}"
        if branch == "single":
            h = classifier(x, classes, 3, dilation_rate=rate, kernel_initializer=init, name=name)
        else:
            h = fully_connected_as_conv(
                x, fc_units, fc6_kernel=3, fc6_dilation=rate, dropout=dropout, prefix=f"{name}_"
            )
            h = classifier(h, classes, name=f"{name}_fc8", kernel_initializer=init)
        scores.append(h)
    return keras.layers.Add(name="aspp_sum")(scores) if len(scores) > 1 else scores[0]


def _deeplabv2_network(
    classes, backbone, weights, output_stride, atrous_rates, branch, fc_units, dropout
) -> keras.Model:
    """The single-scale network, (batch, H, W, 3) → scores (batch, ⌈H/s⌉, ⌈W/s⌉, classes), s the output stride;
    any H, W."""
    from kerasseg.backbones import build_backbone

    inputs = keras.Input((None, None, 3), name="image")
    options = {"dilated_pooling": "stride1"} if backbone == "vgg16" else {}
    features = build_backbone(backbone, inputs, weights=weights, output_stride=output_stride, **options)
    scores = atrous_spatial_pyramid_pooling(
        features["stride32"],
        classes,
        atrous_rates=atrous_rates,
        branch=branch,
        fc_units=fc_units,
        dropout=dropout,
    )
    return keras.Model(inputs, scores, name="deeplabv2_single_scale")


@register("deeplabv2")
def DeepLabV2(
    classes: int = 21,
    input_shape=(None, None, 3),
    *,
    backbone: str = "resnet101",
    weights="imagenet",
    output_stride: int = 8,
    atrous_rates=(6, 12, 18, 24),
    aspp_branch: str | None = None,
    fc_units: int = 1024,
    dropout: float = 0.5,
    multi_scale: bool = True,
    scales=(0.5, 0.75, 1.0),
) -> keras.Model:
    """DeepLab v2: atrous ResNet-101 at output stride 8, ASPP-L (rates 6, 12, 18, 24) summed, image pyramid.

    Reference: Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous
    Convolution, and Fully Connected CRFs", TPAMI 2017, sections 3.2-3.3 and 4.

    Input (batch, H, W, 3) RGB in [0, 255], H and W multiples of ``output_stride`` (or ``None``: padded inside)
    → ``logits`` (batch, H, W, classes), the scores at H/8 upsampled bilinearly. ``output_stride``: 8, the paper's;
    16 or 32 dilate fewer stages (cheaper), the rates unchanged. ``multi_scale``: the same network (shared
    weights) runs on the image resized by each of ``scales``, the score maps are resized to the largest scale's
    and fused by their maximum (MSC, section 4). ``aspp_branch``: ``"single"`` (default for ResNet, the
    authors' release) or ``"fc"`` (fc6-fc7-fc8 per branch, default for VGG-16); see
    :func:`atrous_spatial_pyramid_pooling`. ``weights`` go to the backbone (``"imagenet"``, a path, ``None``).
    Deviations: training adds a loss on each scale's output in the paper; here only the fused output is returned.
    The fully connected CRF post-processing is not part of the network.
    """
    if backbone not in PAPERS["deeplabv2"]["backbones"]:
        valid = ", ".join(PAPERS["deeplabv2"]["backbones"])
        raise ValueError(f"deeplabv2: unknown backbone {backbone!r}; valid backbones: {valid}")
    if not scales or min(scales) <= 0:
        raise ValueError(f"deeplabv2: scales must be positive, got {scales!r}")
    branch = aspp_branch or ("fc" if backbone == "vgg16" else "single")
    network = _deeplabv2_network(
        classes, backbone, weights, output_stride, tuple(atrous_rates), branch, fc_units, dropout
    )

    inputs, x = segmentation_input(input_shape, output_stride, "deeplabv2")
    if not multi_scale:
        return segmentation_model(inputs, x, network(x), name="deeplabv2")
    outputs = []
    for scale in scales:
        tag = f"{round(scale * 100)}"
        image = x if scale == 1 else ImagePyramidLevel(scale, name=f"pyramid_scale{tag}")(x)
        outputs.append((scale, network(image)))
    reference = max(outputs, key=lambda pair: pair[0])[1]
    aligned = [
        t if t is reference else ResizeLike(name=f"pyramid_resize{round(s * 100)}")([t, reference])
        for s, t in outputs
    ]
    fused = keras.layers.Maximum(name="pyramid_max")(aligned) if len(aligned) > 1 else aligned[0]
    return segmentation_model(inputs, x, fused, name="deeplabv2")
