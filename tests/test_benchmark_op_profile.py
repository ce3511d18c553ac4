"""benchmarks/op_profile.py: its one-operator models compute what the operator computes inside the full model."""


from collections import defaultdict

import keras
import numpy as np
import pytest
from scripts import load_script


@pytest.fixture(scope="module")
def op_profile():
    return load_script("benchmarks/op_profile.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from kerasseg.export import to_tflite

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 127.5, -1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, y])
    x = keras.layers.Conv2D(5, 1, name="classifier")(x)
    logits = keras.layers.Resizing(16, 16, name="logits_resize")(x)
    model = keras.Model(inputs, logits)
    images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    folder = tmp_path_factory.mktemp("op_profile")
    return {mode: to_tflite(model, str(folder / f"{mode}.tflite"), mode, images, metadata=False)
            for mode in ("float32", "int8")}


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_one_operator_models_reproduce_the_full_graph(op_profile, files, mode):
    from ai_edge_litert.interpreter import Interpreter

    from kerasseg.export import tflite_op_list

    path = files[mode]
    full = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    full.allocate_tensors()
    detail = full.get_input_details()[0]
    pixels = np.random.default_rng(1).uniform(0, 255, detail["shape"]).astype(detail["dtype"])
    full.set_tensor(detail["index"], pixels)
    full.invoke()
    cuts = op_profile.single_op_models(path)
    assert [c["op"] for c in cuts] == [op["op"] for op in tflite_op_list(path)]
    for cut in cuts:
        one = Interpreter(model_content=cut["flatbuffer"])
        one.allocate_tensors()
        for index in cut["inputs"]:
            one.set_tensor(index, full.get_tensor(index))
        one.invoke()
        for index in cut["outputs"]:
            # The full graph kept its tensors on LiteRT's own kernels, the cut one runs on XNNPACK: one
            # quantization step apart at most, float to rounding.
            got, want = one.get_tensor(index), full.get_tensor(index)
            tolerance = 1 if got.dtype != np.float32 else 1e-4 * max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got.astype("float64"), want.astype("float64"), atol=tolerance, rtol=0,
                                       err_msg=cut["op"])


@pytest.mark.slow
def test_profile_rows_and_report(op_profile, files):
    paths = [files["int8"], files["float32"]]
    profiles = op_profile.op_profile(paths, runs=2, threads=1)
    int8 = profiles[files["int8"]]
    assert int8["ops"][0]["op"] == "QUANTIZE" and int8["ops"][-1]["op"] == "DEQUANTIZE"
    assert all(row["ms"] > 0 for row in int8["ops"]) and int8["full_ms"] > 0
    conv = [row for row in profiles[files["float32"]]["ops"] if row["op"] == "CONV_2D"]
    assert conv and all(row["xnnpack"] for row in conv)  # the default delegate takes float convolutions
    report = op_profile.compare_profiles(int8, profiles[files["float32"]])
    assert "input/output conversion" in report and "logits upsampling" in report
    # 2 x multiply-adds, counted by hand: the stride-2 3x3 convolution (8x8x8 outputs of 27), the depthwise 3x3
    # (8x8x8 of 9), the 1x1 classifier (8x8x5 of 8); every other operator none.
    flops = defaultdict(list)
    for row in profiles[files["float32"]]["ops"]:
        flops[row["op"]].append(row["flops"])
    assert flops["CONV_2D"] == [2 * 512 * 27, 2 * 320 * 8] and flops["DEPTHWISE_CONV_2D"] == [2 * 512 * 9]
    assert not any(f for op, rows in flops.items() if op not in ("CONV_2D", "DEPTHWISE_CONV_2D") for f in rows)
    table = op_profile.format_profile(files["float32"], profiles[files["float32"]], sgemm_gflops=100.0)
    conv_ms = sum(row["ms"] for row in conv)
    rate = (2 * 512 * 27 + 2 * 320 * 8) / conv_ms / 1e6  # GFLOP/s of the two convolutions together
    conv_line = next(line for line in table.splitlines() if line.strip().startswith("CONV_2D"))
    assert conv_line.split()[-2:] == [f"{rate:.1f}", f"{rate:.0f}%"]  # against an sgemm of 100 GFLOP/s
