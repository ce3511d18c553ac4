"""FLOP counting and latency measurement of exports (what benchmarks/mobile.py and `kerasseg benchmark` report)."""

from __future__ import annotations

import keras
import pytest

from kerasseg.export import to_tflite
from kerasseg.export.profile import litert_latency, sgemm_gflops, tflite_flops


def test_flops_are_counted_from_the_layer_shapes(tmp_path):
    inputs = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)  # 16·16·8 outputs × 3·3·3 MACs
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 16·16·8 outputs × 3·3 MACs
    x = keras.layers.Conv2DTranspose(4, 2, strides=2)(x)  # 16·16·8 inputs × 2·2·4 MACs
    model = keras.Model(inputs, x)
    path = to_tflite(model, str(tmp_path / "m.tflite"), input_size=(16, 16), metadata=False)
    macs = 16 * 16 * 8 * 27 + 16 * 16 * 8 * 9 + 16 * 16 * 8 * 16
    assert tflite_flops(path) == pytest.approx(2 * macs / 1e9)


def test_latency_summary_and_sgemm(tmp_path):
    inputs = keras.Input((32, 32, 3), batch_size=1)
    model = keras.Model(inputs, keras.layers.Conv2D(8, 3, padding="same")(inputs))
    path = to_tflite(model, str(tmp_path / "m.tflite"), input_size=(32, 32), metadata=False)
    latency = litert_latency(path, num_threads=1, runs=5, warmup=1)
    assert latency["runs"] == 5 and 0 < latency["p10_ms"] <= latency["median_ms"] <= latency["p90_ms"]
    with pytest.raises(ValueError, match="runs"):
        litert_latency(path, runs=0)
    assert sgemm_gflops(num_threads=1, n=256, repeats=2) > 0.1


def test_size_breakdown_counts_the_kernels_biases_and_scales(tmp_path):
    import numpy as np

    from kerasseg.export.flatbuffer import tflite_size_breakdown

    inputs = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)  # 216 weights, 8 biases
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 72 weights, 8 biases
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(x))  # 32 weights, 4 biases
    weights, biases, channels = 216 + 72 + 32, 8 + 8 + 4, 8 + 8 + 4
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:  # distinct biases: the converter stores identical constants once
        layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
    images = rng.uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    sizes = {}
    for mode in ("float32", "int8"):
        path = to_tflite(model, str(tmp_path / f"{mode}.tflite"), mode, images, input_size=(16, 16), metadata=False)
        sizes[mode] = tflite_size_breakdown(path)
        assert sizes[mode]["total"] == sum(v for k, v in sizes[mode].items() if k != "total")
    assert sizes["float32"]["weights"] == 4 * weights and sizes["float32"]["biases"] == 4 * biases
    assert sizes["int8"]["weights"] == weights and sizes["int8"]["biases"] == 4 * biases  # int32 biases
    assert sizes["float32"]["quantization"] == 0
    # Per-channel: a float32 scale for each output channel of the kernels and of the biases, at least.
    assert sizes["int8"]["quantization"] >= 4 * 2 * channels
