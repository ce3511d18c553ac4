"""Smoke test of benchmarks/models.py: the FLOP count of its TFLite export against hand counts, one table row."""


import keras
import pytest
from scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/models.py")


def conv_macs(h, w, c_out, k, c_in, depthwise=False):
    return h * w * c_out * k * k * (1 if depthwise else c_in)


@pytest.mark.slow
def test_flops_match_hand_count(bench, tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, dilation_rate=2, padding="same")(x)
    x = keras.layers.Conv2D(6, 3, dilation_rate=2, padding="same")(
        x
    )  # traced as SpaceToBatch → conv → BatchToSpace
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same")(x)
    x = keras.layers.Conv2DTranspose(5, 2, strides=2)(x)
    logits = keras.layers.Dense(7)(x)
    model = keras.Model(inputs, logits)
    macs = (
        conv_macs(16, 16, 4, 3, 3)
        + conv_macs(16, 16, 8, 3, 4, depthwise=True)
        + conv_macs(16, 16, 6, 3, 8)
        + conv_macs(8, 8, 6, 3, 6)
        + 8 * 8 * 6 * (2 * 2 * 5)  # transposed: every input value is spread over a 2×2×5 window
        + 16 * 16 * 7 * 5  # Dense on every pixel
    )
    from kerasseg.export.profile import tflite_flops

    path = bench.float32_export(model, 16, str(tmp_path))
    assert tflite_flops(path) == pytest.approx(2 * macs / 1e9, rel=1e-12)
    assert bench.litert_row(path, runs=1)["litert_ms"] > 0


def unet_counts(size, classes, base=64, depth=4):
    """Parameters and multiply-adds of the same-padded U-Net of Ronneberger et al. (MICCAI 2015, Fig. 1)."""
    params = macs = 0

    def conv(h, c_in, c_out, k=3):
        nonlocal params, macs
        params += k * k * c_in * c_out + c_out
        macs += conv_macs(h, h, c_out, k, c_in)

    c_in, h = 3, size
    for level in range(depth + 1):  # contracting path and bottom, 2×2 max pooling between levels
        f = base * 2**level
        conv(h, c_in, f)
        conv(h, f, f)
        c_in, h = f, h // 2
    h = size // 2**depth
    for level in reversed(range(depth)):  # 2×2 up-convolution halving the channels, concat, two 3×3 convs
        f = base * 2**level
        params += 2 * 2 * 2 * f * f + f
        macs += h * h * 2 * f * (2 * 2 * f)
        h *= 2
        conv(h, 2 * f, f)
        conv(h, f, f)
    conv(size, base, classes, k=1)
    return params, macs


@pytest.mark.slow
def test_unet_row_and_tables(bench):
    params, macs = unet_counts(64, 21)
    rows = bench.benchmark(["unet"], size=64, runs=1, budget_s=0)
    row = rows[0]
    assert "error" not in row, row
    assert row["params"] == params
    assert row["gflops"] == pytest.approx(2 * macs / 1e9, rel=1e-12)
    assert row["output_stride"] == 16  # four 2×2 max poolings
    assert row["runs"] == 1 and row["latency_ms"] > 0
    assert row["backbone"] is None
    text = bench.format_table(rows).splitlines()
    assert text[0].split()[:4] == ["model", "backbone", "params", "(M)"]
    assert text[2].split()[:4] == ["unet", "—", f"{params / 1e6:.2f}", f"{2 * macs / 1e9:.1f}"]
    markdown = bench.format_table(rows, markdown=True).splitlines()
    assert markdown[0].startswith("| model | backbone | params (M) | GFLOPs | OS |")
    assert len(markdown) == 2 + len(rows)


@pytest.mark.slow
def test_failures_are_rows_and_unknown_names_list_valid_ones(bench):
    rows = bench.benchmark(["unet"], size=60, runs=1)
    assert rows[0]["model"] == "unet" and "not a multiple of 16" in rows[0]["error"]
    text = bench.report(rows, 60, bench.environment(), [0.0] * 3, [0.0] * 3)
    assert "unet: ValueError" in text
    with pytest.raises(ValueError, match="valid models: .*unet"):
        bench.benchmark(["no_such_model"], size=64)


def test_the_backbone_column_names_the_paper_s_fixed_backbone(bench):
    # FCN takes no backbone argument: VGG16 is part of the paper's network, and the table still says so.
    assert [bench.default_backbone(n) for n in ("fcn8s", "segnet", "pspnet", "unet")] == [
        "vgg16", "vgg16", "resnet101", None]
