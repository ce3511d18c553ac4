"""Where DeepLabv3+ puts a one-hot impulse back: the offset, in pixels, of each decoder path at each input size.

The probe (tests/model_checks.py): centre-tap weights make every unit a copy of the input at its centre, so an
impulse on a pixel that the stride-16 grid samples travels to one cell of each feature map and comes back, through
the decoder's resizes, as a bilinear tent; the tent's centroid minus the impulse's pixel is the path's offset.
One path at a time: "stride-4" silences the encoder (ASPP projection), "encoder" silences the low-level 1×1 and
the image pooling (a global mean). Run from the repository root:

    python tools/alignment_probe.py                          # every backbone and size, the builder's default
    python tools/alignment_probe.py mobilenetv2 512 --aligned  # aligned_resize=True (--half-pixel: False)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import keras  # noqa: E402
from model_checks import centre_tap_weights, impulse_positions  # noqa: E402

from kerasseg.models import DeepLabV3Plus  # noqa: E402

# Backbone → (small options, background that preprocesses to 0, where cell j of a stride-s map sits: s·j + c(s)).
BACKBONES = {
    "xception": ({}, (127.5,) * 3, lambda s: 0),
    "resnet50": ({}, (123.68, 116.779, 103.939), lambda s: 0),
    "mobilenetv2": ({"alpha": 0.35}, (127.5,) * 3, lambda s: s - 1),
}
PATHS = {"stride-4": ("aspp_project_bn",), "encoder": ("decoder_low_level_bn", "aspp_image_bn")}
SIZES = (80, 96, 112, 512, 513)  # 513: an input of unknown size, padded inside to 528


def probe(backbone: str, size: int, **options) -> dict:
    """Path → (impulse pixel, landed row, landed column) for a ``size``×``size`` image."""
    small, background, centre = BACKBONES[backbone]
    shape = (size, size, 3) if size % 16 == 0 else (None, None, 3)
    pixel = 16 * (size // 32) + centre(16)  # near the middle, on the stride-16 grid
    found = {}
    for path, silenced in PATHS.items():
        keras.backend.clear_session()
        model = DeepLabV3Plus(classes=1, backbone=backbone, weights=None, aspp_filters=4, decoder_filters=4,
                              input_shape=shape, **small, **options)
        centre_tap_weights(model)
        for name in silenced:
            gamma, beta, mean, var = model.get_layer(name).get_weights()
            model.get_layer(name).set_weights([0 * gamma, beta, mean, var])
        probe_model = keras.Model(model.input, {"logits": model.output})
        (row, col), = impulse_positions(probe_model, size, pixel, background).values()
        found[path] = (pixel, row, col)
    return found


def main(argv: list[str]) -> int:
    options = {}
    if "--aligned" in argv or "--half-pixel" in argv:
        options["aligned_resize"] = "--aligned" in argv
    words = [a for a in argv if not a.startswith("--")]
    backbones = [w for w in words if w in BACKBONES] or list(BACKBONES)
    sizes = [int(w) for w in words if w.isdigit()] or list(SIZES)
    print(f"| {'backbone':<11} | input | path     | impulse | landed (row, col) | offset (px) | seconds |")
    print("|-------------|-------|----------|---------|-------------------|-------------|---------|")
    for backbone in backbones:
        for size in sizes:
            start = time.time()
            for path, (pixel, row, col) in probe(backbone, size, **options).items():
                print(f"| {backbone:<11} | {size:>5} | {path:<8} | {pixel:>7} | ({row:7.3f}, {col:7.3f}) "
                      f"| {row - pixel:+6.3f}      | {time.time() - start:7.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
