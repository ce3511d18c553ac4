"""The zoo side by side with the peers, all timed in one run on this machine.

    python benchmarks/zoo.py [--runs 20] [--entries camvid-mobile,isbi-unet] [--peer-runs 10] [--json PATH]

For each zoo entry (``kerasseg.zoo``), at the card's input size, batch 1, 2 threads: Keras
(``tf.function``) latency, TFLite fp32 (exported on the fly into a temporary folder, builtin ops, scored on the
whole val split here), the shipped TFLite int8 and fp16 files; size, GFLOPs and val score (the card's, measured by
``saved_models/make_entry.py``; fp32: measured now). Then the peers of ``../shared/reference/peers.md``, measured
again in the same run: MediaPipe's selfie segmentation model (LiteRT, 256×256, the file in
``../shared/reference/peers/``) and a keras-hub-like DeepLabV3+ ResNet-50 at 512×512, 21 classes.

keras-hub is not installed here, so the DeepLabV3+ peer is a stand-in built with kerasseg in the configuration
peers.md describes (ResNet-50 v1 encoder, ASPP on the stride-32 features with rates 6/12/18, plain 3×3
convolutions, 48-channel low-level projection, random weights): kerasseg's decoder has the paper's two 3×3
convolutions, so it has 40.4 M parameters against keras-hub's 39.18 M. Its GFLOPs are printed beside peers.md's.
Ratios are taken between rows of this run only (peers.md: absolute times move by ~20 % between runs here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kerasseg import zoo  # noqa: E402
from kerasseg.export import run_tflite, to_tflite  # noqa: E402
from kerasseg.export.profile import keras_latency, litert_latency, tflite_flops  # noqa: E402

SHARED = REPO.parent / "shared"
# A script of the checkout: its zoo and the project's data, unless the environment names others.
os.environ.setdefault("KERASSEG_ZOO", str(REPO / "saved_models"))
os.environ.setdefault("KERASSEG_DATA", str(SHARED / "data"))
SELFIE = SHARED / "reference" / "peers" / "selfie_segmentation.tflite"
# peers.md (measured 2026-11-25 on this machine kind): median ms, params, GFLOPs
PEERS_MD = {
    "selfie": {"litert_ms": 3.1, "gflops": 0.12},
    "deeplab": {"keras_ms": 830.7, "litert_fp32_ms": 506.6, "params": 39.18e6, "gflops": 56.16},
}
HEADLINE = {"camvid": "miou", "isbi2012": "foreground_iou"}


def row(model, runtime, size, ms, *, mb=None, gflops=None, score=None, note=""):
    return {"model": model, "runtime": runtime, "input": list(size), "median_ms": ms, "mb": mb, "gflops": gflops,
            "score": score, "note": note}


def fp32_score(path: str, card: dict) -> float:
    """The card's headline metric of a float32 export on the whole val split (kerasseg.evaluation.evaluate)."""
    from kerasseg.data import load_dataset, make_eval_pipeline
    from kerasseg.evaluation import evaluate

    val, _ = load_dataset(card["dataset"], "val")
    scores = evaluate(lambda x: run_tflite(path, x), make_eval_pipeline(val, batch_size=8), len(card["classes"]))
    metric = HEADLINE.get(card["dataset"], "miou")
    return float(scores.iou[1]) if metric == "foreground_iou" else scores.miou


def measure_entry(name: str, runs: int, score_fp32: bool) -> list[dict]:
    card = zoo.card(name)
    size = tuple(card["input_size"])
    metric = HEADLINE.get(card["dataset"], "miou")
    model = zoo.load(name)
    label = f"{name} ({metric})"
    rows = [row(label, "Keras (TF)", size, keras_latency(model, size, runs)["median_ms"],
                mb=card["files"]["model.keras"] / 1e6, score=card["scores"]["keras"][metric])]
    with tempfile.TemporaryDirectory() as tmp:
        path = to_tflite(model, os.path.join(tmp, "fp32.tflite"), "float32", None, size, metadata=False)
        gflops = tflite_flops(path)
        rows[0]["gflops"] = gflops
        rows.append(row(label, "LiteRT fp32", size, litert_latency(path, 2, runs)["median_ms"],
                        mb=os.path.getsize(path) / 1e6, gflops=gflops,
                        score=fp32_score(path, card) if score_fp32 else None, note="exported now"))
    for fmt, runtime in (("int8", "LiteRT int8"), ("fp16", "LiteRT fp16")):
        path = str(zoo.entry_file(name, fmt))
        rows.append(row(label, runtime, size, litert_latency(path, 2, runs)["median_ms"],
                        mb=os.path.getsize(path) / 1e6, gflops=gflops, score=card["scores"][fmt][metric]))
    return rows


def deeplab_standin():
    import kerasseg

    return kerasseg.DeepLabV3Plus(
        classes=21, input_shape=(512, 512, 3), backbone="resnet50", weights=None, output_stride=32,
        atrous_rates=(6, 12, 18), separable=False,
    )


def measure_peers(runs: int) -> dict[str, dict]:
    peers = {"selfie": row("MediaPipe selfie_segmentation", "LiteRT (fp16 w.)", (256, 256),
                           litert_latency(str(SELFIE), 2, runs)["median_ms"], mb=SELFIE.stat().st_size / 1e6,
                           gflops=tflite_flops(str(SELFIE)), note=f"peers.md {PEERS_MD['selfie']['litert_ms']} ms")}
    model = deeplab_standin()
    size = (512, 512)
    name = f"DeepLabV3+ R50 stand-in ({model.count_params() / 1e6:.2f} M)"
    keras_ms = keras_latency(model, size, runs)["median_ms"]
    with tempfile.TemporaryDirectory() as tmp:
        path = to_tflite(model, os.path.join(tmp, "deeplab.tflite"), "float32", None, size, metadata=False)
        gflops = tflite_flops(path)
        peers["deeplab_keras"] = row(name, "Keras (TF)", size, keras_ms, gflops=gflops,
                                     note=f"peers.md {PEERS_MD['deeplab']['keras_ms']} ms")
        peers["deeplab_fp32"] = row(name, "LiteRT fp32", size, litert_latency(path, 2, runs)["median_ms"],
                                    mb=os.path.getsize(path) / 1e6, gflops=gflops,
                                    note=f"peers.md {PEERS_MD['deeplab']['litert_fp32_ms']} ms, "
                                         f"{PEERS_MD['deeplab']['gflops']} GFLOPs")
    return peers


def format_rows(rows: list[dict], peers: dict[str, dict]) -> str:
    selfie, deeplab = peers["selfie"]["median_ms"], peers["deeplab_fp32"]["median_ms"]
    header = (f"{'model':<40} {'runtime':<17} {'input':>9} {'MB':>6} {'GFLOPs':>7} {'ms':>8} {'GFLOP/s':>7} "
              f"{'val':>6} {'×selfie':>8} {'×DeepLab':>8}  note")
    lines = [header, "-" * len(header)]
    for r in [*rows, *peers.values()]:
        rate = f"{r['gflops'] / r['median_ms'] * 1000:.1f}" if r["gflops"] else "-"
        mb = f"{r['mb']:.2f}" if r["mb"] else "-"
        gflops = f"{r['gflops']:.2f}" if r["gflops"] else "-"
        score = f"{100 * r['score']:.1f}" if r["score"] is not None else "-"
        lines.append(
            f"{r['model'][:40]:<40} {r['runtime']:<17} {r['input'][0]:>4}x{r['input'][1]:<4} {mb:>6} {gflops:>7} "
            f"{r['median_ms']:>8.1f} {rate:>7} {score:>6} {r['median_ms'] / selfie:>8.2f} "
            f"{r['median_ms'] / deeplab:>8.3f}  {r['note']}"
        )
    lines += [
        "",
        "×selfie / ×DeepLab: this row's median latency over MediaPipe selfie (LiteRT, 256²) / the DeepLabV3+ R50",
        "stand-in (LiteRT fp32, 512²), both measured in this run. val: the card's score (mIoU, or cell IoU for",
        "ISBI) on the whole val split; the fp32 row is scored now.",
        f"This run vs peers.md: selfie {selfie / PEERS_MD['selfie']['litert_ms']:.2f}×, DeepLab LiteRT fp32 "
        f"{deeplab / PEERS_MD['deeplab']['litert_fp32_ms']:.2f}×, DeepLab Keras "
        f"{peers['deeplab_keras']['median_ms'] / PEERS_MD['deeplab']['keras_ms']:.2f}× their times "
        f"(load average now {os.getloadavg()[0]:.1f}).",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default=None, help="comma-separated zoo entries (default: all)")
    parser.add_argument("--runs", type=int, default=20, help="timed calls per zoo row")
    parser.add_argument("--peer-runs", type=int, default=10, help="timed calls per peer row")
    parser.add_argument("--no-fp32-score", action="store_true", help="skip scoring the fp32 export on val")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if not SELFIE.is_file():
        raise FileNotFoundError(f"MediaPipe's selfie model {SELFIE} is missing (the project's shared folder)")
    names = args.entries.split(",") if args.entries else zoo.list_entries()
    start = time.time()
    rows = [r for name in names for r in measure_entry(name, args.runs, not args.no_fp32_score)]
    peers = measure_peers(args.peer_runs)
    print(format_rows(rows, peers))
    print(f"\n{len(names)} zoo entries and 2 peers in {time.time() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "peers": peers}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
