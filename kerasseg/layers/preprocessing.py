"""The backbone's own input preprocessing, as a layer inside the model (input is RGB in [0, 255])."""

from __future__ import annotations

import keras
from keras import ops

# keras.applications' preprocess_input modes.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("caffe", "tf", "torch", "none")


@keras.saving.register_keras_serializable(package="kerasseg")
class BackbonePreprocessing(keras.layers.Layer):
    """Maps RGB [0, 255] to what a backbone's ImageNet weights expect.

    ``"caffe"`` (VGG, ResNet v1): RGB→BGR, minus the ImageNet BGR mean. ``"tf"`` (MobileNetV2, Xception):
    x / 127.5 − 1. ``"torch"``: x / 255, minus mean, over std. ``"none"``: unchanged.
    Same as ``keras.applications.<family>.preprocess_input`` so a phone feeds camera pixels directly.
    (batch, H, W, 3) → (batch, H, W, 3) in the layer's compute dtype; no weights.
    """

    def __init__(self, mode: str = "tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown preprocessing mode {mode!r}; valid modes: {', '.join(MODES)}")
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return _caffe(x)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=x.dtype)
            std = ops.convert_to_tensor(_TORCH_STD, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _caffe(x):
    """RGB→BGR and minus the BGR mean as one 1×1 convolution: a permutation kernel, the negative mean as bias.

    A channel flip converts to TFLite's REVERSE_V2, which the LiteRT GPU delegate does not run; this converts to
    one CONV_2D. Exact in float: every output is one input times 1 plus inputs times 0, then the bias.
    """
    permutation = [[[[1.0 if i == 2 - o else 0.0 for o in range(3)] for i in range(3)]]]  # (1, 1, in, out)
    kernel = ops.convert_to_tensor(permutation, dtype=x.dtype)
    bias = ops.convert_to_tensor([-m for m in _CAFFE_MEAN_BGR], dtype=x.dtype)
    return ops.conv(x, kernel, strides=1, padding="valid") + bias
