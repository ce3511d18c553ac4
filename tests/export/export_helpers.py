"""Helpers of the export tests: a colour segmenter whose correct mask is known from its input alone, and small
models given trained-like weights for parity checks."""

from __future__ import annotations

import importlib.util

import keras
import numpy as np
import pytest

from kerasseg.layers import BackbonePreprocessing
from kerasseg.models import segmentation_input, segmentation_model

COLOUR_LABELS = ["red", "green", "blue", "dark"]
# What a test whose outside tool is missing tells the user to run (CI runs it; there, a skip fails the run).
SETUP = "bash tools/setup-tests.sh"
# Stripes of the test image, left to right, and the class each one is.
STRIPES = [((255, 0, 0), 0), ((0, 255, 0), 1), ((0, 0, 255), 2), ((0, 0, 0), 3), ((250, 30, 20), 0)]
DARK_THRESHOLD = 64.0  # a pixel whose channels all lie below this is "dark"


def colour_segmenter(size=(64, 64)) -> keras.Model:
    """A kerasseg-contract model that labels each pixel by its dominant colour, or "dark".

    Logits: the preprocessed channels x / 127.5 - 1 for red, green and blue, and a constant for "dark" at the
    level of a pixel value of 64. The input normalization therefore matters: a runtime that fed [-1, 1] or
    [0, 1] instead of [0, 255] would see "dark" everywhere. Average pooling by 2 and the contract's bilinear
    resize back to the input size give the export the shape of a real segmenter.
    """
    inputs, x = segmentation_input((*size, 3), 2, "colour_segmenter")
    y = BackbonePreprocessing("tf", name="preprocessing")(x)
    y = keras.layers.AveragePooling2D(2, name="pool")(y)
    conv = keras.layers.Conv2D(4, 1, name="classifier")
    logits = conv(y)
    kernel = np.zeros((1, 1, 3, 4), "float32")
    kernel[0, 0, [0, 1, 2], [0, 1, 2]] = 1.0
    conv.set_weights([kernel, np.array([0, 0, 0, DARK_THRESHOLD / 127.5 - 1], "float32")])
    return segmentation_model(inputs, x, logits, name="colour_segmenter")


def stripes_image(height: int = 72, width: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 image of vertical colour stripes and its (height, width) class mask."""
    image = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.int64)
    edges = np.linspace(0, width, len(STRIPES) + 1).round().astype(int)
    for (rgb, label), start, stop in zip(STRIPES, edges[:-1], edges[1:], strict=True):
        image[:, start:stop] = rgb
        mask[:, start:stop] = label
    return image, mask


def assert_same_logits(actual, expected) -> None:
    """An export's float32 logits equal Keras' up to float32 rounding. The runtimes sum in other orders than
    TensorFlow, and untrained models on raw [0, 255] pixels give logits in the hundreds, which differ by a few
    ulps: 1.2e-4 at 300-600, over a fixed 1e-4 for some weights, i.e. in some orders of the suite and on some CPUs
    (issue 27). A misplaced row or column differs by a large fraction of the range: the tolerance is
    parity_report's float32 criterion, 1e-5 of it."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * float(np.ptp(expected)))


def interior(mask: np.ndarray, margin: int = 4) -> np.ndarray:
    """Pixels at least ``margin`` columns away from a stripe boundary (resizing blurs the boundaries)."""
    edges = np.flatnonzero(np.diff(mask[0])) + 0.5
    columns = np.arange(mask.shape[1])
    far = np.min(np.abs(columns[:, None] - edges[None]), axis=1) >= margin
    return np.broadcast_to(far[None], mask.shape)


def exercised(model: keras.Model, images: np.ndarray, seed: int = 0) -> keras.Model:
    """Gives a randomly initialised model the signal flow of a trained one, so parity tests mean something.

    Two things make a fresh model a poor test of quantization: layers initialised to zero (FCN's score layers,
    as in the paper) give constant logits, and BatchNorm's initial statistics (mean 0, variance 1) let
    activations shrink by orders of magnitude through a deep backbone until the logits are ties. So every
    all-zero kernel gets He-normal values, and every BatchNorm's moving statistics are set to those of
    ``images`` (one training-mode pass with momentum 0), as a trained network's would be.
    """
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and not np.any(kernel.numpy()):
            fan_in = int(np.prod(kernel.shape[:-1]))
            kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype("float32"))
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
        # A near-constant channel would get a huge gain 1/sqrt(var) and amplify rounding like no trained
        # network does: floor each variance at the layer's mean variance.
        variance = layer.moving_variance.numpy()
        layer.moving_variance.assign(np.maximum(variance, variance.mean()))
    return model


def dominant_colour_labels(images: np.ndarray) -> np.ndarray:
    """A per-pixel task any segmenter learns in a few steps: red, green or blue by the largest channel, or 3
    ("dark") where every channel is below 96. (N, H, W, 3) in [0, 255] → (N, H, W) int."""
    labels = images.argmax(-1)
    labels[images.max(-1) < 96] = 3
    return labels


def briefly_trained(model: keras.Model, images: np.ndarray, epochs: int = 4, batch_size: int = 4) -> keras.Model:
    """``model`` fitted for a few steps to :func:`dominant_colour_labels` of ``images``, so that its logits have
    the class margins of a trained network; BatchNorm statistics are then those of the images (:func:`exercised`).

    Random weights are a poor test of quantization: a random deep network with batch norm amplifies rounding at
    every layer and its logits are near-ties, which no trained model is.
    """
    from kerasseg.losses import SegmentationCrossEntropy

    exercised(model, images[: 2 * batch_size])
    model.compile(keras.optimizers.Adam(1e-3), loss=SegmentationCrossEntropy(), jit_compile=False)
    model.fit(images, dominant_colour_labels(images), batch_size=batch_size, epochs=epochs, verbose=0)
    return exercised(model, images[: 4 * batch_size])


def import_mediapipe():
    """The ``mediapipe`` module, or a skip that says how to install it (not a pip extra: see tools/setup-tests.sh).

    Only an absent package skips; an installed one that fails to import (say, without cv2) fails the test.
    """
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip(f"mediapipe is not installed: {SETUP} installs it", allow_module_level=True)
    import mediapipe

    return mediapipe
