"""Mobile benchmark: int8 against float32 for every model the zoo ships and for the phone ("lite") model, the
lite model against MediaPipe's selfie segmenter, float32 against the machine's sgemm peak, all in one
round-robin loop, and where the time goes, operator by operator (the lite model's int8 and float32 files, the zoo's
float32 files, with each operator type's GFLOP/s against the sgemm).

    python benchmarks/mobile.py                                   # 40 rounds of 200 ms per row, 2 threads
    python benchmarks/mobile.py --lite-checkpoint lite.keras --json results.json

One loop times every LiteRT interpreter (batch 1, ``num_threads=2``, the default XNNPACK delegate, 3 warm-up
calls) and one numpy float32 sgemm (``--sgemm-n``³, BLAS on the same threads), so that the load of a shared
machine falls on every row alike: each round takes the rows (the sgemm among them) in a new random order, and
each row runs back to back for ``--window-ms`` and records its mean time per call, a sustained figure like the
sgemm's (single calls depend on what the cores did just before them: ``time_round_robin``). Each row reports its
median over the rounds. Each target is a ratio of two rows of the same run, judged on the median of the
per-round ratios (at load 10 on 2 cores single rows' medians wandered up to 2× between runs while paired ratios
moved less), with the ratio of the medians printed beside it. The load average before and after the loop is
printed: figures are comparable within one run, not across runs (notes in ``benchmarks/mobile.md``).

GFLOPs = 2 × multiply-adds of the convolution-like ops of the file (int8 rows credited with the float FLOPs);
"% sgemm" = achieved GFLOP/s over the interleaved sgemm's median GFLOP/s.

Models:
- every zoo entry at its deployment size: ``camvid-mobile`` (DeepLabv3+, MobileNetV2 α 0.5, ASPP and decoder
  128) at 360×480, ``isbi-unet`` at 512×512 and the phone entry ``camvid-lite`` (the lite model below, trained)
  at 192×256: float32 exported from its ``model.keras``, and the zoo's own ``model_int8.tflite``, which issue
  #26's phone target (b) times against MediaPipe's selfie segmenter.
- ``deeplabv3plus-mnv2-0.35-lite`` at 256×256, 11 CamVid classes: MobileNetV2 α 0.35 at output stride 16, ASPP
  64 and decoder 32 (plain 3×3 convolutions) on a 16-channel stride-4 projection. ``--lite-checkpoint`` times
  (and scores) a trained one (``benchmarks/lite``); otherwise it has ImageNet backbone weights (timing does not
  depend on them).
- for comparison, ``...-lite-separable``: the same with depthwise-separable ASPP and decoder (the first lite
  model: 2.2× fewer FLOPs, but its int8 file was only ~1.4× faster than its float32 file, because
  depthwise convolutions gain 1.4× from int8 where plain ones gain 1.7×), and ``...-lite-issue16``: the separable
  model as issue #16 measured it (decoder 64, low-level 24); both with ImageNet backbone weights.
- MediaPipe's ``selfie_segmentation.tflite`` (256×256, fp16 weights) from ``../shared/reference/peers``.
Modes: float32, int8 (uint8 pixels in, float32 logits out), and "-native": logits at the classifier's grid,
upsampled by the app (MediaPipe's ImageSegmenter does it), as a phone deploys the lite model.
"""

from __future__ import annotations

import os
import sys

THREADS = 2
if __name__ == "__main__":  # BLAS reads its thread count when numpy loads
    _threads = next((a.split("=")[1] for a in sys.argv if a.startswith("--threads=")), str(THREADS))
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SHARED = REPO.parent / "shared"
os.environ.setdefault("KERASSEG_ZOO", str(REPO / "saved_models"))  # the checkout's zoo, unless set
CAMVID = SHARED / "data" / "camvid"
PEER = SHARED / "reference" / "peers" / "selfie_segmentation.tflite"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"
# Every model the zoo ships, at its deployment size (the size of its TFLite files, saved_models/*/CARD.md).
ZOO = {"camvid-mobile": (360, 480), "isbi-unet": (512, 512), "camvid-lite": (192, 256)}
PHONE = "camvid-lite"  # the zoo's phone entry: the lite model trained, packaged with MediaPipe metadata
LITE = "deeplabv3plus-mnv2-0.35-lite"
LITE_SIZE = (256, 256)
# Builder options of deeplabv3plus (MobileNetV2).
MODELS = {
    LITE: dict(alpha=0.35, aspp_filters=64, decoder_filters=32, low_level_filters=16, separable=False),
    f"{LITE}-separable": dict(alpha=0.35, aspp_filters=64, decoder_filters=32, low_level_filters=16, separable=True),
    f"{LITE}-issue16": dict(alpha=0.35, aspp_filters=64, decoder_filters=64, low_level_filters=24, separable=True),
}
CLASSES = 11  # CamVid
WINDOW_MS = 200.0  # each row of a round runs back to back this long (time_round_robin)
# OpenBLAS' idle threads spin for 2^28 cycles (~0.1 s) after a call, on the cores the next row needs: camvid-mobile's
# float32 call right after a 2048³ sgemm took 42.5 ms, 22.2 ms back to back. OPENBLAS_THREAD_TIMEOUT=4 stops the
# spin but slowed the interleaved sgemm itself (161-171 GFLOP/s against 177-180), so the loop waits this long after
# the sgemm's window instead.
BLAS_IDLE_S = 0.15
PEER_NAME = "mediapipe-selfie (peer)"


def build(name: str, size: tuple[int, int] = LITE_SIZE, classes: int = CLASSES, checkpoint: str | None = None):
    """A lite model at ``size``: ImageNet backbone weights, or the weights of a trained ``checkpoint``."""
    from kerasseg.models import get_model

    options = MODELS[name]
    weights = WEIGHTS.with_name(WEIGHTS.name.format(alpha=options["alpha"]))
    model = get_model("deeplabv3plus", classes=classes, input_shape=(*size, 3), backbone="mobilenetv2",
                      weights=str(weights) if weights.is_file() and not checkpoint else None, **options)
    if checkpoint:
        from kerasseg.evaluation import load_model

        model.set_weights(load_model(checkpoint, compile=False).get_weights())
    return model


def calibration_images(size: tuple[int, int]) -> tuple[np.ndarray, str]:
    from kerasseg.export.check_data import load_check_data, synthetic_check_data

    if CAMVID.is_dir():
        return load_check_data("camvid", size, "train", 8, str(CAMVID)).images, "CamVid train (8)"
    return synthetic_check_data(size).images, "synthetic shapes (8)"


def export_all(folder: str, lite_checkpoint: str | None) -> dict:
    """{(model, mode): path} of every file the loop times."""
    import keras

    from kerasseg import zoo
    from kerasseg.export import to_tflite

    paths = {}
    images, _ = calibration_images(LITE_SIZE)
    for name in MODELS:
        keras.backend.clear_session()
        model = build(name, checkpoint=lite_checkpoint if name == LITE else None)
        for mode in ("float32", "int8"):
            for native in (False, True):
                key = (name, f"{mode}-native" if native else mode)
                paths[key] = to_tflite(model, os.path.join(folder, f"{name}_{key[1]}.tflite"), mode, images,
                                       full_resolution=not native, metadata=False)
    if PEER.is_file():
        paths[(PEER_NAME, "fp16 weights")] = str(PEER)
    for name, size in ZOO.items():
        keras.backend.clear_session()
        paths[(name, "float32")] = to_tflite(zoo.load(name), os.path.join(folder, f"{name}_float32.tflite"),
                                             "float32", input_size=size, metadata=False)
        paths[(name, "int8")] = str(zoo.entry_file(name, "int8"))
    return paths


def sgemm(n: int):
    """A zero-argument numpy float32 n³ matmul and its FLOPs."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    return (lambda: a @ b), 2 * n**3


def time_round_robin(paths: dict, rounds: int, threads: int, sgemm_n: int, window_ms: float = WINDOW_MS) -> dict:
    """{key: [ms per call, one value per round]} for every file and for ("sgemm", n), timed in one loop.

    In each round every row runs back to back for at least ``window_ms`` and reports its mean time per call, the
    sgemm too: every figure is a sustained one, like the sgemm's. (Single calls read what the cores did just before:
    on the quiet machine camvid-mobile's float32 file took 26.5 ms per call back to back, 20.5 ms after a 50 ms
    pause and 39.6 ms right after a 2048³ sgemm, whose BLAS threads still spin: ``BLAS_IDLE_S``;
    ``benchmarks/mobile.md``.) ``window_ms=0``: one call per row.
    """
    from kerasseg.export.tflite import tflite_interpreter

    calls = {}
    for key, path in paths.items():
        interpreter = tflite_interpreter(path, threads)
        detail = interpreter.get_input_details()[0]
        pixels = np.random.default_rng(0).uniform(0, 255, detail["shape"])
        interpreter.set_tensor(detail["index"], pixels.astype(detail["dtype"]))
        for _ in range(3):
            interpreter.invoke()
        calls[key] = interpreter.invoke
    calls[("sgemm", sgemm_n)] = sgemm(sgemm_n)[0]
    times = {key: [] for key in calls}
    keys = list(calls)
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        # Each round takes the rows in a new random order: with a fixed or rotated order a row always followed
        # the same neighbour (the row after the 512x512 U-Net ran 1.6x slower than a larger lite model).
        order = [keys[i] for i in rng.permutation(len(keys))]
        for key in order:
            call, count = calls[key], 0
            start = time.perf_counter()
            while True:
                call()
                count += 1
                elapsed = 1000 * (time.perf_counter() - start)
                if elapsed >= window_ms:
                    break
            times[key].append(elapsed / count)
            if key[0] == "sgemm":
                time.sleep(BLAS_IDLE_S)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", "--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=THREADS, help="give it as --threads=N (BLAS reads it early)")
    parser.add_argument("--sgemm-n", type=int, default=2048, help="the sgemm's size (2048³ and 4096³ both reached "
                        "185-188 GFLOP/s on the project machine)")
    parser.add_argument("--window-ms", type=float, default=WINDOW_MS,
                        help="each row of a round runs back to back this long (0: one call)")
    parser.add_argument("--lite-checkpoint", default=None, help="a trained lite model (.keras) to time")
    parser.add_argument("--val-images", type=int, default=101,
                        help="CamVid val images for the lite files' mIoU at 256x256 (0: skip)")
    parser.add_argument("--profile-rounds", type=int, default=30,
                        help="per-operator profile rounds of the lite model and the zoo's float32 files (0: skip)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        print(f"note: BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}, LiteRT threads {args.threads}")

    from kerasseg.export.flatbuffer import tflite_size_breakdown
    from kerasseg.export.profile import tflite_flops

    with tempfile.TemporaryDirectory() as folder:
        paths = export_all(folder, args.lite_checkpoint)
        load_before = os.getloadavg()
        times = time_round_robin(paths, args.rounds, args.threads, args.sgemm_n, args.window_ms)
        load_after = os.getloadavg()
        sgemm_ms = times.pop(("sgemm", args.sgemm_n))
        sgemm_rate = 2 * args.sgemm_n**3 / np.median(sgemm_ms) / 1e6
        rows = []
        for (name, mode), path in paths.items():
            flops = tflite_flops(path)
            median = float(np.median(times[(name, mode)]))
            rows.append({"model": name, "mode": mode, "bytes": os.path.getsize(path), "gflops": flops,
                         "size_breakdown": tflite_size_breakdown(path),
                         "median_ms": median, "gflop_per_s": flops / median * 1000,
                         "pct_sgemm": 100 * flops / median * 1000 / sgemm_rate, "times_ms": times[(name, mode)]})
        print(f"load average before the loop {load_before[0]:.2f} (5 min {load_before[1]:.2f}), after "
              f"{load_after[0]:.2f} (5 min {load_after[1]:.2f}); {os.cpu_count()} CPUs; LiteRT "
              f"{args.threads} threads; {args.rounds} rounds of {args.window_ms:g} ms per row")
        print(f"sgemm {args.sgemm_n}³ interleaved, numpy BLAS {os.environ.get('OPENBLAS_NUM_THREADS')} threads: "
              f"median {np.median(sgemm_ms):.1f} ms = {sgemm_rate:.1f} GFLOP/s (best round "
              f"{2 * args.sgemm_n**3 / min(sgemm_ms) / 1e6:.1f})\n")
        print(table(rows))
        print()
        print(size_breakdown(rows))
        print()
        accuracy = phone_accuracy(paths, args.val_images) if args.val_images and CAMVID.is_dir() else {}
        print(targets(rows, sgemm_ms, args.sgemm_n, accuracy))
        if args.profile_rounds:
            from op_profile import compare_profiles, format_profile, op_profile

            lite = [paths[(LITE, "int8")], paths[(LITE, "float32")]]
            zoo_float32 = [paths[(name, "float32")] for name in ZOO]
            load = os.getloadavg()[0]
            profiles = op_profile([*lite, *zoo_float32], args.profile_rounds, args.threads)
            print(f"\nper-operator time of the lite model and of the zoo's float32 files, one-operator models timed "
                  f"round-robin with the full models ({args.profile_rounds} rounds of one call each, load average "
                  f"{load:.2f} -> {os.getloadavg()[0]:.2f}); % sgemm: of the loop's {sgemm_rate:.1f} GFLOP/s")
            for path in (*lite, *zoo_float32):
                print(format_profile(path, profiles[path], sgemm_gflops=sgemm_rate))
            print(compare_profiles(profiles[lite[0]], profiles[lite[1]]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sgemm_ms": sgemm_ms, "sgemm_n": args.sgemm_n, "threads": args.threads,
                       "load_before": load_before, "load_after": load_after, "rows": rows}, f, indent=1)
    return 0


def table(rows: list[dict]) -> str:
    lines = [f"{'model':<38} {'mode':<16} {'input':>7} {'MB':>6} {'GFLOPs':>7} {'median ms':>9} {'GFLOP/s':>8} "
             f"{'% sgemm':>7}"]
    for r in rows:
        size = "x".join(map(str, ZOO.get(r["model"], LITE_SIZE)))
        lines.append(f"{r['model']:<38} {r['mode']:<16} {size:>7} {r['bytes'] / 1e6:>6.3f} {r['gflops']:>7.3f} "
                     f"{r['median_ms']:>9.2f} {r['gflop_per_s']:>8.1f} {r['pct_sgemm']:>6.0f}%")
    return "\n".join(lines)


def size_breakdown(rows: list[dict]) -> str:
    """Where the int8 file's bytes go, as fractions of the float32 file: the 4× of the weights, and what does
    not shrink (int32 biases, per-channel scales and zero points, tensor names, graph and metadata)."""
    by = {(r["model"], r["mode"]): r for r in rows}
    lines = []
    for (name, mode), r in by.items():
        if mode != "int8" or (name, "float32") not in by:
            continue
        fp32 = by[(name, "float32")]["size_breakdown"]
        parts = r["size_breakdown"]
        share = {k: parts[k] / fp32["total"] for k in parts}
        floor = (parts["weights"] + parts["biases"] + parts["quantization"]) / (fp32["weights"] + fp32["biases"])
        lines.append(
            f"{name} int8 / float32 size {share['total']:.3f}: weights {share['weights']:.3f} + biases "
            f"{share['biases']:.3f} + scales/zero points {share['quantization']:.3f} + names "
            f"{share['tensor_names']:.3f} + graph/metadata {share['rest'] + share['other_constants']:.3f}; "
            f"per-channel floor (weights, biases, scales only) {floor:.3f}"
        )
    return "\n".join(lines)


def _ratio(slow: dict, fast: dict) -> tuple[float, float]:
    """(ratio of the medians, median of the per-round ratios) of slow / fast."""
    per_round = np.asarray(slow["times_ms"]) / np.asarray(fast["times_ms"])
    return slow["median_ms"] / fast["median_ms"], float(np.median(per_round))


def phone_accuracy(paths: dict, limit: int) -> dict:
    """{mode: CamVid val mIoU (%)} of the lite model's TFLite files as a phone runs them: the val image resized
    to 256x256, the native logits upsampled bilinearly to 256x256 (MediaPipe's ImageSegmenter does this), scored
    against the mask resized (nearest) to 256x256. Unlabelled pixels are ignored."""

    from kerasseg.evaluation.inference import resize
    from kerasseg.export import run_tflite
    from kerasseg.export.check_data import load_check_data
    from kerasseg.metrics import SegmentationScores, confusion_matrix

    data = load_check_data("camvid", LITE_SIZE, "val", limit, str(CAMVID))
    scores = {}
    for mode in ("float32", "int8", "int8-native"):
        logits = run_tflite(paths[(LITE, mode)], data.images)
        logits = resize(logits, LITE_SIZE)
        confusion = confusion_matrix(data.masks, logits.argmax(-1), logits.shape[-1])
        scores[mode] = 100 * SegmentationScores(confusion).miou
    scores["images"] = len(data.images)
    return scores


def targets(rows: list[dict], sgemm_ms: list[float], n: int, accuracy: dict) -> str:
    """Issue #16's targets, each with its figures and whether it is met."""
    by = {(r["model"], r["mode"]): r for r in rows}

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = ["targets, judged on the paired ratio (median over rounds of the ratio of two rows' times in the same "
             "round), with the ratio of the medians beside it:"]
    pairs = (("float32", "int8"), ("float32-native", "int8-native"))
    for name, fp32, int8 in (*((zoo, "float32", "int8") for zoo in ZOO),
                             *((lite, fp32, int8) for lite in MODELS for fp32, int8 in pairs)):
        if (name, int8) not in by:
            continue
        medians, per_round = _ratio(by[(name, fp32)], by[(name, int8)])
        lines.append(f"  (a) {name} {int8}: {per_round:.2f}x faster than {fp32} (medians {medians:.2f}x), "
                     f"target >= 1.5: {verdict(per_round >= 1.5)}")
    peer = by.get((PEER_NAME, "fp16 weights"))
    if peer:
        if (PHONE, "int8") in by:
            medians, per_round = _ratio(by[(PHONE, "int8")], peer)
            lines.append(f"  (b) {PHONE} (the zoo's file) {ZOO[PHONE][0]}x{ZOO[PHONE][1]} int8: {per_round:.2f}x "
                         f"MediaPipe selfie's time (medians {medians:.2f}x), target <= 1.0: {verdict(per_round <= 1.0)}")
        for mode in ("int8-native", "int8"):
            medians, per_round = _ratio(by[(LITE, mode)], peer)
            lines.append(f"  (b) {LITE} 256x256 {mode}: {per_round:.2f}x MediaPipe selfie's time (medians "
                         f"{medians:.2f}x), target <= 1.0: {verdict(per_round <= 1.0)}"
                         + (f"; CamVid val mIoU of this file at 256x256 {accuracy[mode]:.1f}% "
                            f"({accuracy['images']} images)" if mode in accuracy else ""))
        if "float32" in accuracy:
            lines.append(f"      the lite float32 file's CamVid val mIoU at 256x256: {accuracy['float32']:.1f}%")
        for name in MODELS:
            if name != LITE:
                medians, per_round = _ratio(by[(name, "int8-native")], peer)
                lines.append(f"      for comparison {name} int8-native: {per_round:.2f}x (medians {medians:.2f}x)")
    for name in (*ZOO, LITE):
        r = by[(name, "float32")]
        rates = r["gflops"] * 1e9 / (np.asarray(r["times_ms"]) / 1e3)
        sgemm_rates = 2 * n**3 / (np.asarray(sgemm_ms) / 1e3)
        per_round = 100 * float(np.median(rates / sgemm_rates))
        lines.append(f"  (c) {name} float32: {per_round:.0f}% of the interleaved sgemm (medians "
                     f"{r['pct_sgemm']:.0f}%), target >= 60%: {verdict(per_round >= 60)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
