"""The one checker every registered architecture goes through (the model contract of DESIGN.md)."""

from __future__ import annotations

import keras
import numpy as np

from kerasseg.export import run_tflite, tflite_ops, to_tflite
from kerasseg.models import inference_model, model_info

FLEX_PREFIXES = ("FlexDelegate", "Flex", "CUSTOM")

# Each registered architecture's small configuration: its blocks with narrower layers or a lighter backbone, so a
# build, a training step and an export take seconds. Test settings, not the library's: the registry knows none.
# "input_shape" where 64×64 would not suit the architecture. The every-architecture export figures
# (tests/export/test_every_architecture.py) were recorded with these.
SMALL = {
    "fcn32s": {"fc_units": 64},
    "fcn16s": {"fc_units": 64},
    "fcn8s": {"fc_units": 64},
    "segnet": {"width_multiplier": 0.125},
    "deeplabv1_largefov": {"fc_units": 64},
    "deeplabv2": {"backbone": "resnet50", "multi_scale": False},
    "deeplabv3": {"backbone": "mobilenetv2", "alpha": 0.35, "aspp_filters": 16},
    "deeplabv3_cascaded": {"backbone": "resnet50", "block_filters": 16, "cascade": 1, "input_shape": (64, 64, 3)},
    "deeplabv3plus": {"backbone": "mobilenetv2", "alpha": 0.35, "aspp_filters": 16, "decoder_filters": 16},
    "dilated_frontend": {"fc_units": 64},
    "dilated_context": {"fc_units": 64},
    "gcn": {"backbone": "mobilenetv2", "alpha": 0.35},
    "pspnet": {"backbone": "mobilenetv2", "alpha": 0.35, "filters": 32, "aux_filters": 16},
    "refinenet": {"backbone": "mobilenetv2", "alpha": 0.35, "filters": (32, 16)},
    "unet": {"base_filters": 8},
}


def small_options(name: str) -> dict:
    """The builder arguments of ``name``'s small configuration (without its input shape)."""
    if name not in SMALL:
        raise KeyError(f"tests/model_checks.py: SMALL has no configuration for {name!r}; add one")
    return {k: v for k, v in SMALL[name].items() if k != "input_shape"}


def small_input_shape(name: str) -> tuple:
    return tuple(SMALL[name].get("input_shape", (64, 64, 3)))


def structured_images(n: int, size, seed: int = 0) -> np.ndarray:
    """Images in [0, 255] with shapes and gradients, not pure noise (quantization is judged on these)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), "float32")
    for i in range(n):
        img = np.stack([xx / w * 255, yy / h * 255, np.full((h, w), 128.0)], -1)
        for _ in range(3):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(h / 8, h / 3)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(0, 255, 3)
        out[i] = img + rng.normal(0, 8, img.shape)
    return np.clip(out, 0, 255)


def build_small(name: str, classes: int = 3, input_shape=None, **overrides) -> keras.Model:
    kwargs = {**small_options(name), **overrides}
    shape = input_shape or small_input_shape(name)
    return model_info(name).builder(classes=classes, input_shape=shape, weights=None, **kwargs)


def check_model(name: str, tmp_path, classes: int = 3) -> None:
    """Builds ``name`` small and checks output, no Lambda, .keras round trip, one fit step, builtin-only TFLite."""
    info = model_info(name)
    shape = small_input_shape(name)
    model = build_small(name, classes, shape)
    x = structured_images(2, shape[:2])

    # Output contract: one array, the "logits" layer's, float32, at input resolution (an aux head only trains).
    logits_layer = model.get_layer("logits")
    logits = model.predict(x, verbose=0)
    assert isinstance(logits, np.ndarray) and not isinstance(model(x[:1]), dict)
    assert logits.shape == (2, *shape[:2], classes), (name, logits.shape)
    assert logits.dtype == np.float32
    assert logits_layer.output.shape[-1] == classes
    assert np.isfinite(logits).all()
    assert not [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Lambda)]

    # .keras round trip with safe_mode=True gives the same outputs.
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), logits, rtol=1e-5, atol=1e-5)

    # One training step with the ignore label.
    y = np.random.default_rng(0).integers(0, classes, (2, *shape[:2]))
    y[:, :2] = 255
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    model.compile("sgd", loss=loss)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    # Builtin-only TFLite at the small fixed size, matching Keras.
    single = inference_model(loaded)
    tfl = to_tflite(single, str(tmp_path / f"{name}.tflite"), "float32")
    ops_ = tflite_ops(tfl)
    assert not [op for op in ops_ if op.startswith(FLEX_PREFIXES)], ops_
    lite = run_tflite(tfl, x[:1])
    ref = single.predict(x[:1], verbose=0)
    scale = max(1.0, float(np.ptp(ref)))
    assert np.abs(lite - ref).max() <= 1e-4 * scale, (name, np.abs(lite - ref).max(), scale)

    # Any input size, padded inside, when the architecture allows it.
    if info.dynamic:
        dyn = build_small(name, classes, (None, None, 3))
        odd = structured_images(2, (shape[0] + 6, shape[1] - 5))
        out = dyn.predict(odd, verbose=0)
        assert out.shape == (2, *odd.shape[1:3], classes)
        # A traced training step at a size known only at run time (one mask, also for an aux head).
        dyn.compile("sgd", loss=loss)
        y_odd = np.random.default_rng(1).integers(0, classes, (2, *odd.shape[1:3]))
        assert np.isfinite(dyn.fit(odd, y_odd, epochs=1, verbose=0).history["loss"][0])


def centre_tap_weights(model: keras.Model) -> None:
    """Weights that make every unit a positive copy of the input at its centre, spread only by max pools.

    Every convolution keeps only its kernel's centre tap (1 depthwise, 1/C_in across channels), without bias;
    batch norm is the identity. A one-hot impulse then lands, in each feature map, exactly on the units whose
    centre is the impulse's pixel, and symmetrically around them where a max pool spreads it.
    """
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([np.ones_like(gamma), np.zeros_like(beta), np.zeros_like(mean), np.ones_like(var)])
        elif isinstance(layer, keras.layers.SeparableConv2D | keras.layers.DepthwiseConv2D | keras.layers.Conv2D):
            values = []
            for weight in layer.weights:
                shape = tuple(weight.shape)
                value = np.zeros(shape, "float32")
                if len(shape) == 4:
                    kind = "depthwise" if "depthwise" in weight.path else "kernel"
                    value[shape[0] // 2, shape[1] // 2] = 1.0 if kind == "depthwise" else 1.0 / shape[2]
                values.append(value)
            layer.set_weights(values)


def impulse_positions(model: keras.Model, size: int, pixel: int, background) -> dict:
    """Where a one-hot impulse at (``pixel``, ``pixel``) of a size×size image lands in each output of ``model``.

    Returns name → (row, column) centroid of |response − response to the background|, in units of the map.
    """
    image = np.broadcast_to(np.asarray(background, "float32"), (1, size, size, 3)).copy()
    base = {k: np.asarray(v) for k, v in model(image).items()}
    image[0, pixel, pixel] = 255.0 if np.mean(background) < 200 else 0.0
    hit = {k: np.asarray(v) for k, v in model(image).items()}
    positions = {}
    for key in hit:
        response = np.abs(hit[key] - base[key])[0].sum(-1)
        rows, cols = np.mgrid[: response.shape[0], : response.shape[1]]
        total = response.sum()
        positions[key] = (float((rows * response).sum() / total), float((cols * response).sum() / total))
    return positions
