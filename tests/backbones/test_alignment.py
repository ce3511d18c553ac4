"""Where each backbone feature sits on the input: its ``feature_grid``, the fact the heads' resizes rely on.

A one-hot impulse through centre-tap weights (tests/model_checks.py) lands where a unit's centre is. Position j
of a stride-s map sits on input pixel s·j ("top_left") in ResNet (7×7 conv padded by 3, 3×3 pool padded by 1,
strided 1×1 on even positions) and in kerasseg's Xception, as in the DeepLab authors' Xception-65 (sizes
s·k + 1); on s·j + s − 1 ("bottom_right") in Keras' MobileNetV2, whose stride-2 layers pad even sizes at the
bottom/right only. With maps exactly H/s, the decoders' ×4 and ×16 resizes then relate the same pixels at every
size (kerasseg.layers.ResizeLike's ``grid``).
"""

import keras
import pytest
from model_checks import centre_tap_weights, impulse_positions

from kerasseg.backbones import BACKBONES, build_backbone

# Mid-grey for Xception's and MobileNetV2's [-1, 1] inputs, the ImageNet mean for ResNet's caffe preprocessing:
# 0 after both.
BACKGROUND = {"resnet50": (123.68, 116.779, 103.939)}
# A pixel on every stride's grid: 32 = s·j for s up to 32; 63 = s·j + s − 1 for s up to 32.
PIXEL = {"top_left": 32, "bottom_right": 63}
OPTIONS = {"mobilenetv2": {"alpha": 0.35}}


@pytest.mark.parametrize("name", ["xception", "resnet50", "mobilenetv2"])
@pytest.mark.parametrize("output_stride", [32, 16])
def test_an_impulse_lands_on_the_backbones_feature_grid(name, output_stride):
    grid = BACKBONES[name]["feature_grid"]
    assert grid == {"mobilenetv2": "bottom_right"}.get(name, "top_left")
    inputs = keras.Input((96, 96, 3))
    model = keras.Model(inputs, build_backbone(name, inputs, output_stride=output_stride, **OPTIONS.get(name, {})))
    centre_tap_weights(model)
    pixel = PIXEL[grid]
    positions = impulse_positions(model, 96, pixel, BACKGROUND.get(name, (127.5,) * 3))
    for key, (row, col) in positions.items():
        if key == "stride1":
            continue
        stride = min(int(key.removeprefix("stride")), output_stride)
        offset = 0 if grid == "top_left" else stride - 1
        assert (row * stride + offset, col * stride + offset) == pytest.approx((pixel, pixel), abs=1e-3), key
