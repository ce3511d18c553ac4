"""U-Net (Ronneberger, Fischer, Brox, MICCAI 2015): a contracting path and a symmetric expanding path.

Reference: "U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015, Fig. 1.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasseg.models.contract import classifier, segmentation_input, segmentation_model
from kerasseg.models.registry import register

__all__ = ["UNet", "overlap_tile_predict", "valid_unet_output_size"]

# The paper's contracting path: four 2×2 max poolings (Fig. 1).
PAPER_DEPTH = 4


def double_conv(x, filters: int, padding: str, name: str, batch_norm: bool):
    """Two 3×3 convolutions, each followed by a ReLU (and batch norm when asked, a post-paper addition)."""
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding=padding, use_bias=not batch_norm, kernel_initializer="he_normal",
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def up_block(x, skip, filters: int, padding: str, name: str, batch_norm: bool):
    """Up-convolution 2×2 halving the channels, crop-and-copy of the skip feature, then two 3×3 convolutions."""
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_upconv")(x)
    if skip is not None:
        if padding == "valid":
            dh = skip.shape[1] - x.shape[1]
            dw = skip.shape[2] - x.shape[2]
            skip = keras.layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)), name=f"{name}_crop")(
                skip
            )
        x = keras.layers.Concatenate(name=f"{name}_concat")([skip, x])
    return double_conv(x, filters, padding, name, batch_norm)


def _output_size(size: int, depth: int) -> int | None:
    s = size
    for _ in range(depth):
        s -= 4  # two unpadded 3×3 convolutions
        if s <= 0 or s % 2:
            return None  # the 2×2 max pooling needs an even size
        s //= 2
    s -= 4
    for _ in range(depth):
        s = 2 * s - 4
    return s if s > 0 else None


def unet_paths(x, base_filters: int, depth: int, padding: str, batch_norm: bool, dropout: float):
    """The contracting path (``depth`` poolings, filters doubling) and the expanding path, on RGB [0, 255]."""
    h = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocessing")(x)
    skips = []
    for level in range(depth):
        h = double_conv(h, base_filters * 2**level, padding, f"down{level + 1}", batch_norm)
        skips.append(h)
        h = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(h)
    h = double_conv(h, base_filters * 2**depth, padding, "bottom", batch_norm)
    if dropout:
        h = keras.layers.Dropout(dropout, name="bottom_dropout")(h)
    for level in reversed(range(depth)):
        h = up_block(h, skips[level], base_filters * 2**level, padding, f"up{level + 1}", batch_norm)
    return h


def valid_unet_output_size(size: int, depth: int = PAPER_DEPTH) -> int:
    """Output size of the valid-convolution U-Net for an input ``size`` (572 → 388 at depth 4), or ValueError."""
    out = _output_size(size, depth)
    if out is None:
        step = 2**depth
        nearest = [s for s in range(max(1, size - 3 * step), size + 3 * step) if _output_size(s, depth)]
        nearest.sort(key=lambda s: abs(s - size))
        raise ValueError(
            f"U-Net with valid convolutions cannot take input size {size}: every 2×2 pooling needs an even size "
            f"after its two 3×3 convolutions. Nearest valid sizes: {sorted(nearest[:2])}"
        )
    return out


@register("unet")
def UNet(
    classes: int = 2,
    input_shape=(None, None, 3),
    *,
    base_filters: int = 64,
    depth: int | None = None,
    padding: str = "same",
    batch_norm: bool | None = None,
    dropout: float = 0.5,
    backbone: str | None = None,
    weights=None,
    **backbone_options,
) -> keras.Model:
    """U-Net: (N, H, W, 3) RGB [0, 255] → logits (N, H, W, classes) (``padding="same"``).

    ``padding="valid"`` is the paper's network: unpadded 3×3 convolutions, so the output is smaller than the input
    (572 → 388) and covers its centre; use :func:`overlap_tile_predict` for whole images. It keeps the rest of the
    contract (a ``SegmentationModel``, float32 ``logits``); only the output size differs, as in the paper.
    ``"same"`` pads every convolution so the output matches the input size (the usual modern variant). ``backbone``
    replaces the contracting path by an ImageNet encoder (features at strides 2…32, ``weights`` and
    ``backbone_options`` as in ``build_backbone``); the expanding path then upsamples once more to full resolution.
    ``depth``: the number of 2×2 poolings of U-Net's own contracting path (4, the paper's); a backbone brings its
    five stages instead. ``batch_norm`` after every convolution, a post-paper addition: off by default on U-Net's
    own paths, on in the expanding path over a backbone (whose features are batch-normalised). Dropout at the end of
    the contracting path as in the paper (its rate is not given; 0.5 here). Input: ``(H, W)`` multiples of 2**depth
    (32 with a backbone) for "same"; for "valid" see :func:`valid_unet_output_size`.
    """
    encoder = None if backbone in (None, "none") else backbone
    _check_options(padding, encoder, weights, depth, backbone_options)
    depth = PAPER_DEPTH if depth is None else depth
    batch_norm = bool(encoder) if batch_norm is None else batch_norm

    if padding == "valid":
        return _valid_unet(classes, input_shape, base_filters, depth, batch_norm, dropout)

    if not encoder:
        inputs, x = segmentation_input(input_shape, 2**depth, "UNet")
        h = unet_paths(x, base_filters, depth, "same", batch_norm, dropout)
    else:
        from kerasseg.backbones import build_backbone

        inputs, x = segmentation_input(input_shape, 32, "UNet")
        features = build_backbone(backbone, x, weights=weights, **backbone_options)
        h = features["stride32"]
        if dropout:
            h = keras.layers.Dropout(dropout, name="bottom_dropout")(h)
        for level, stride in enumerate((16, 8, 4, 2, 1)):
            skip = features.get(f"stride{stride}")
            filters = max(base_filters * 2 ** (4 - level) // 2, base_filters // 2)
            h = up_block(h, skip, filters, "same", f"up{5 - level}", batch_norm)
    return segmentation_model(inputs, x, classifier(h, classes), name="unet")


def _check_options(padding: str, encoder: str | None, weights, depth, backbone_options: dict) -> None:
    """Every option the chosen U-Net would not use is an error that names it."""
    if padding not in ("same", "valid"):
        raise ValueError(f"unet: padding must be 'same' or 'valid', got {padding!r}")
    if encoder and padding == "valid":
        raise ValueError("unet: a pretrained backbone encoder is only available with padding='same'")
    if not encoder and weights not in (None, "none"):
        raise ValueError("unet: weights need a backbone: UNet(backbone='mobilenetv2', weights='imagenet')")
    if encoder and depth is not None:
        raise ValueError(
            f"unet: depth={depth} sets the poolings of U-Net's own contracting path; backbone={encoder!r} "
            "brings its five stages (leave depth unset)"
        )
    if not encoder and backbone_options:
        raise ValueError(f"unet: {', '.join(sorted(backbone_options))} are options of a backbone, and there is none")


def _valid_unet(classes, input_shape, base_filters, depth, batch_norm, dropout):
    size_h, size_w = input_shape[:2]
    if size_h is None or size_w is None:
        raise ValueError("U-Net with valid convolutions needs a fixed input_shape, e.g. (572, 572, 3)")
    for s in (size_h, size_w):
        valid_unet_output_size(s, depth)
    inputs = keras.Input(input_shape, name="image")
    h = unet_paths(inputs, base_filters, depth, "valid", batch_norm, dropout)
    return segmentation_model(inputs, inputs, classifier(h, classes), name="unet_valid", at_input_size=False)


def overlap_tile_predict(model: keras.Model, image: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Overlap-tile inference of a valid-convolution U-Net on an image of any size (paper, Fig. 2).

    The image (H, W, 3) is mirrored at its border by the network's context margin and cut into input tiles.
    Tiles step by the largest multiple of 2**depth that fits in the output tile, so every tile sees the same
    pooling grid: the stitched logits (H, W, classes) equal one pass of the network over the whole mirrored image.
    """
    in_h, in_w = model.input_shape[1:3]
    out_h, out_w = model.output_shape[1:3]
    pools = sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    grid = 2**pools
    step_h, step_w = out_h // grid * grid, out_w // grid * grid
    if not step_h or not step_w:
        raise ValueError(f"output tile {out_h}×{out_w} is smaller than the pooling grid {grid}: use a larger input")
    margin_h, margin_w = (in_h - out_h) // 2, (in_w - out_w) // 2
    h, w = image.shape[:2]
    rows, cols = -(-h // step_h), -(-w // step_w)
    extra_h = rows * step_h + out_h - step_h - h
    extra_w = cols * step_w + out_w - step_w - w
    padded = np.pad(image, ((margin_h, margin_h + extra_h), (margin_w, margin_w + extra_w), (0, 0)), mode="reflect")
    tiles = [
        padded[r * step_h : r * step_h + in_h, c * step_w : c * step_w + in_w] for r in range(rows) for c in range(cols)
    ]
    outputs = model.predict(np.stack(tiles).astype("float32"), batch_size=batch_size, verbose=0)
    out = np.zeros((rows * step_h, cols * step_w, outputs.shape[-1]), "float32")
    for i, tile in enumerate(outputs):
        r, c = divmod(i, cols)
        out[r * step_h : (r + 1) * step_h, c * step_w : (c + 1) * step_w] = tile[:step_h, :step_w]
    return out[:h, :w]
