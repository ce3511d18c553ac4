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
