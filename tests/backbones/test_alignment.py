"""Where each backbone feature sits on the input: position j of the stride-s map on input pixel s·j.

A one-hot impulse through centre-tap weights (tests/model_checks.py) lands where a unit's centre is; the
expected pixel is the grid's, s·j, as in ResNet (7×7 conv padded by 3, 3×3 pool padded by 1, strided 1×1 on
even positions) and in the DeepLab authors' Xception-65 (sizes s·k + 1). With maps that are exactly H/s, the
decoders' ×4 and ×16 resizes then relate the same pixels at every size.
"""

import keras
import pytest
from model_checks import centre_tap_weights, impulse_positions

from kerasseg.backbones import build_backbone

# Mid-grey for Xception's [-1, 1] inputs, the ImageNet mean for ResNet's caffe preprocessing: 0 after both.
BACKGROUND = {"xception": (127.5, 127.5, 127.5), "resnet50": (123.68, 116.779, 103.939)}


@pytest.mark.parametrize("name", ["xception", "resnet50"])
@pytest.mark.parametrize("output_stride", [32, 16])
def test_an_impulse_on_pixel_32_lands_on_position_32_over_s(name, output_stride):
    inputs = keras.Input((96, 96, 3))
    model = keras.Model(inputs, build_backbone(name, inputs, output_stride=output_stride))
    centre_tap_weights(model)
    for key, (row, col) in impulse_positions(model, 96, 32, BACKGROUND[name]).items():
        if key == "stride1":
            continue
        stride = min(int(key.removeprefix("stride")), output_stride)
        assert (row * stride, col * stride) == pytest.approx((32, 32), abs=1e-3), key
