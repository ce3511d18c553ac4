"""Mobile benchmark: LiteRT latency, size and achieved GFLOP/s of kerasseg's mobile models in every export mode,
side by side with MediaPipe's selfie_segmentation.tflite, and the machine's sgemm peak.

    python benchmarks/mobile.py                     # 256×256 and 512×512, 30 timed runs each
    python benchmarks/mobile.py --sizes 256 --runs 50 --json results.json

Conventions of ``../shared/reference/peers.md``: batch 1, LiteRT ``num_threads=2`` (XNNPACK), median of the timed
``invoke()`` calls after 3 warm-up calls. All interpreters are timed round-robin in one loop, so that the load of
a shared machine falls on every row alike: compare ratios within one run. GFLOPs = 2 × multiply-adds of the
convolution-like ops of the file (int8 rows credited with the float FLOPs); "% sgemm" compares GFLOP/s with numpy
float32 4096³ matmul on the same threads. Calibration (int8): 8 CamVid validation images when ``../shared`` is
there, else synthetic shapes. Backbones get the shared ImageNet MobileNetV2 weights when present.

Models: DeepLabv3+ with a MobileNetV2 α 0.5 encoder as the paper builds it (ASPP and decoder 256 wide, made
depthwise separable as DeepLab's mobile configurations do), and a "lite" variant (α 0.35, ASPP and decoder 64,
low-level 24) sized for the phone. Modes: float32, float16, dynamic, int8, and float32 / int8 with
native-resolution logits (``full_resolution=False``: MediaPipe upsamples the output itself).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SHARED = REPO.parent / "shared"
PEER = SHARED / "reference" / "peers" / "selfie_segmentation.tflite"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"
MODELS = {
    "deeplabv3plus-mnv2-0.5": dict(alpha=0.5),
    "deeplabv3plus-mnv2-0.35-lite": dict(alpha=0.35, aspp_filters=64, decoder_filters=64, low_level_filters=24),
}
MODES = ("float32", "float16", "dynamic", "int8", "float32-native", "int8-native")


def build(name: str, size: int):
    from kerasseg.models import get_model

    options = MODELS[name]
    weights = WEIGHTS.with_name(WEIGHTS.name.format(alpha=options["alpha"]))
    return get_model(
        "deeplabv3plus",
        classes=21,
        input_shape=(size, size, 3),
        backbone="mobilenetv2",
        weights=str(weights) if weights.is_file() else None,
        separable=True,
        **options,
    )


def calibration_images(size: int) -> tuple[np.ndarray, str]:
    from kerasseg.export.check_data import load_check_data, synthetic_check_data

    camvid = SHARED / "data" / "camvid"
    if camvid.is_dir():
        return load_check_data("camvid", (size, size), "val", 8, str(camvid)).images, "CamVid val (8)"
    return synthetic_check_data((size, size)).images, "synthetic shapes (8)"


def export_all(size: int, folder: str) -> tuple[dict, str]:
    """{(model, mode): path} for every model and mode at ``size``."""
    import keras

    from kerasseg.export import to_tflite, to_tflite_modes

    images, source = calibration_images(size)
    paths = {}
    for name in MODELS:
        keras.backend.clear_session()
        model = build(name, size)
        modes = to_tflite_modes(model, folder, MODES[:4], images, name=f"{name}_{size}", metadata=False)
        paths.update({(name, mode): path for mode, path in modes.items()})
        for mode in ("float32", "int8"):
            native = os.path.join(folder, f"{name}_{size}_{mode}-native.tflite")
            paths[(name, f"{mode}-native")] = to_tflite(model, native, mode, images, full_resolution=False,
                                                        metadata=False)
    return paths, source


def time_round_robin(paths: dict, runs: int, threads: int) -> dict:
    """Median ``invoke()`` ms of every file, timed in one interleaved loop."""
    from kerasseg.export.tflite import tflite_interpreter

    interpreters = {}
    for key, path in paths.items():
        interpreter = tflite_interpreter(path, threads)
        detail = interpreter.get_input_details()[0]
        pixels = np.random.default_rng(0).uniform(0, 255, detail["shape"])
        interpreter.set_tensor(detail["index"], pixels.astype(detail["dtype"]))
        for _ in range(3):
            interpreter.invoke()
        interpreters[key] = interpreter
    times = {key: [] for key in interpreters}
    for _ in range(runs):
        for key, interpreter in interpreters.items():
            start = time.perf_counter()
            interpreter.invoke()
            times[key].append(1000 * (time.perf_counter() - start))
    return {key: float(np.median(t)) for key, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.runs < 30:
        print(f"note: {args.runs} runs (the project's figures use at least 30)")

    from kerasseg.export.flatbuffer import tflite_size_breakdown
    from kerasseg.export.profile import sgemm_gflops, tflite_flops

    # The peak is measured before and after the run and the higher kept: on a shared machine one measurement
    # can catch a busy moment (peers.md saw it halve within an hour).
    sgemm_before = sgemm_gflops(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            paths, source = export_all(size, folder)
            if PEER.is_file() and size == 256:
                paths[("mediapipe-selfie (peer)", "fp16 weights")] = str(PEER)
            medians = time_round_robin(paths, args.runs, args.threads)
            for (name, mode), path in paths.items():
                flops = tflite_flops(path)
                rows.append({
                    "model": name, "mode": mode, "input": size, "bytes": os.path.getsize(path), "gflops": flops,
                    "median_ms": medians[(name, mode)], "gflop_per_s": flops / medians[(name, mode)] * 1000,
                    "calibration": source, "size_breakdown": tflite_size_breakdown(path),
                })
    sgemm_after = sgemm_gflops(args.threads)
    sgemm = max(sgemm_before, sgemm_after)
    for row in rows:
        row["pct_sgemm"] = 100 * row["gflop_per_s"] / sgemm
    print(f"machine: numpy float32 sgemm 4096³, {args.threads} threads, best of 5: {sgemm:.1f} GFLOP/s "
          f"(before the run {sgemm_before:.1f}, after {sgemm_after:.1f})\n")
    print(table(rows))
    print()
    print(ratios(rows))
    print()
    print(size_breakdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sgemm_gflop_per_s": sgemm, "runs": args.runs, "threads": args.threads, "rows": rows}, f,
                      indent=2)
    return 0


def table(rows: list[dict]) -> str:
    lines = [f"{'model':<30} {'mode':<13} {'input':>5} {'MB':>7} {'GFLOPs':>7} {'median ms':>9} {'GFLOP/s':>8} "
             f"{'% sgemm':>7}"]
    for r in rows:
        lines.append(f"{r['model']:<30} {r['mode']:<13} {r['input']:>5} {r['bytes'] / 1e6:>7.3f} {r['gflops']:>7.3f} "
                     f"{r['median_ms']:>9.2f} {r['gflop_per_s']:>8.1f} {r['pct_sgemm']:>6.0f}%")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> str:
    """The issue's targets: int8 ≥ 1.5× faster than float32 and ≤ 0.27× its size; lite int8 at 256 no slower
    than the MediaPipe peer; float32 ≥ 60% of sgemm."""
    by = {(r["model"], r["mode"], r["input"]): r for r in rows}
    lines = []
    for (name, mode, size), r in by.items():
        if mode not in ("int8", "int8-native"):
            continue
        fp32 = by[(name, mode.replace("int8", "float32"), size)]
        lines.append(f"{name} {size}: {mode} is {fp32['median_ms'] / r['median_ms']:.2f}x faster than {fp32['mode']} "
                     f"(target >= 1.5), {r['bytes'] / fp32['bytes']:.3f}x its size (target <= 0.27); "
                     f"{fp32['mode']} at {fp32['pct_sgemm']:.0f}% of sgemm (target >= 60%)")
    peer = next((r for r in rows if r["model"].startswith("mediapipe")), None)
    if peer:
        for name in MODELS:
            for mode in ("int8", "int8-native"):
                r = by.get((name, mode, 256))
                if r:
                    lines.append(f"{name} 256 {mode}: {r['median_ms'] / peer['median_ms']:.2f}x the MediaPipe "
                                 f"peer's time (target <= 1.0)")
    return "\n".join(lines)


def size_breakdown(rows: list[dict]) -> str:
    """Where the int8 file's bytes go, as fractions of the float32 file: the 4× of the weights, and what does
    not shrink (int32 biases, per-channel scales and zero points, tensor names, graph and metadata)."""
    by = {(r["model"], r["mode"], r["input"]): r for r in rows}
    lines = []
    for (name, mode, size), r in by.items():
        if mode != "int8":
            continue
        fp32 = by[(name, "float32", size)]["size_breakdown"]
        parts = r["size_breakdown"]
        share = {k: parts[k] / fp32["total"] for k in parts}
        floor = (parts["weights"] + parts["biases"] + parts["quantization"]) / (fp32["weights"] + fp32["biases"])
        lines.append(
            f"{name} {size} int8 / float32 size {share['total']:.3f}: weights {share['weights']:.3f} + biases "
            f"{share['biases']:.3f} + scales/zero points {share['quantization']:.3f} + names "
            f"{share['tensor_names']:.3f} + graph/metadata {share['rest'] + share['other_constants']:.3f}; "
            f"per-channel floor (weights, biases, scales only) {floor:.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
