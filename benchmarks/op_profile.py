"""Per-operator time of a ``.tflite`` file under LiteRT, measured on one-operator models cut out of it.

The pip ``ai-edge-litert`` has neither the ``benchmark_model`` binary nor a Python handle on LiteRT's op profiler
(its ``Interpreter`` exposes ``experimental_force_delegate_node_profiling`` but no way to read the profile, and
under XNNPACK the whole graph is one ``DELEGATE`` node). So each operator of the main graph is written out as a
model of its own: the same operator, options, constant tensors and quantization parameters, its variable inputs
as the model's inputs and its outputs as the model's outputs. Each gets its own interpreter (same threads, same
default XNNPACK delegate as the full model) and all of them, with the full model, are timed round-robin in one
loop. What this misses: the hand-over between operators inside one XNNPACK subgraph (per-operator models pay an
``invoke()`` overhead of a few µs each instead) and cache reuse from one operator to the next; what it shows:
which operators cost what, and which ones XNNPACK does not take (``xnnpack`` False: they run on LiteRT's own
kernels and split the delegated graph). The sum of the operator medians is printed next to the full model's
median so the reader can judge the method.

    python benchmarks/op_profile.py model_int8.tflite model_float32.tflite --runs 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def single_op_models(path: str) -> list[dict]:
    """``[{"index", "op", "output", "shape", "type", "flops", "inputs", "outputs", "flatbuffer"}]``: every
    operator of the main graph as a one-operator model (bytes); ``flops``: 2 × its multiply-adds (0 for operators
    that do none, ``kerasseg.export.profile.op_flops``); ``inputs`` and ``outputs`` are its tensor indices, the
    same in the cut model as in the full one."""
    from ai_edge_litert import schema_py_generated as schema

    from kerasseg.export.flatbuffer import op_name, packed, tflite_op_list
    from kerasseg.export.profile import op_flops

    flops = [op_flops(op) for op in tflite_op_list(path)]
    with open(path, "rb") as f:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(f.read(), 0))
    model.signatureDefs = []  # they name the full graph's inputs and outputs
    model.metadata, model.metadataBuffer = None, None
    graph = model.subgraphs[0]
    operators = graph.operators
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def constant(index: int) -> bool:
        data = model.buffers[graph.tensors[index].buffer].data
        return data is not None and len(data) > 0

    cut = []
    for index, op in enumerate(operators):
        graph.operators = [op]
        graph.inputs = [t for t in op.inputs if t >= 0 and not constant(t)]
        graph.outputs = list(op.outputs)
        out = graph.tensors[op.outputs[0]]
        cut.append({
            "index": index,
            "op": op_name(model.operatorCodes[op.opcodeIndex]),
            "output": (out.name or b"").decode(),
            "shape": tuple(int(d) for d in out.shape),
            "type": types[out.type],
            "flops": flops[index],
            "inputs": list(graph.inputs),
            "outputs": list(graph.outputs),
            "flatbuffer": packed(model),
        })
    graph.operators = operators
    return cut


def _interpreter(content: bytes | None, path: str | None, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        dtype = detail["dtype"]
        if dtype == np.float32:
            x = rng.standard_normal(detail["shape"]).astype(dtype)
        else:
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max + 1, detail["shape"]).astype(dtype)
        interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter


def op_profile(paths: list[str], runs: int = 30, threads: int = 2) -> dict:
    """``{path: {"full_ms", "ops": [{"index", "op", "output", "shape", "type", "flops", "xnnpack", "ms"}]}}``,
    every one-operator model and every full model timed round-robin in one loop."""
    jobs, rows = {}, {}
    for path in paths:
        jobs[(path, "full")] = _interpreter(None, path, threads).invoke
        rows[path] = []
        for cut in single_op_models(path):
            interpreter = _interpreter(cut.pop("flatbuffer"), None, threads)
            cut["xnnpack"] = any(o["op_name"] == "DELEGATE" for o in interpreter._get_ops_details())
            jobs[(path, cut["index"])] = interpreter.invoke
            rows[path].append(cut)
    times = defaultdict(list)
    for _ in range(runs):
        for key, fn in jobs.items():
            start = time.perf_counter()
            fn()
            times[key].append(1000 * (time.perf_counter() - start))
    result = {}
    for path in paths:
        for row in rows[path]:
            row["ms"] = float(np.median(times[(path, row["index"])]))
        result[path] = {"full_ms": float(np.median(times[(path, "full")])), "ops": rows[path]}
    return result


def format_profile(path: str, profile: dict, top: int = 12, sgemm_gflops: float | None = None) -> str:
    """By operator type (count, total ms, share, how many XNNPACK took, achieved GFLOP/s and, given the machine's
    ``sgemm_gflops``, its share of that), then the ``top`` costliest operators."""
    ops = profile["ops"]
    total = sum(r["ms"] for r in ops)
    lines = [f"{os.path.basename(path)}: full model {profile['full_ms']:.2f} ms; sum of its {len(ops)} one-operator "
             f"models {total:.2f} ms"]
    by_type = defaultdict(lambda: [0, 0.0, 0, 0])
    for r in ops:
        key = f"{r['op']} ({r['type'].lower()} out)"
        by_type[key][0] += 1
        by_type[key][1] += r["ms"]
        by_type[key][2] += r["xnnpack"]
        by_type[key][3] += r["flops"]
    lines.append(f"  {'operator':<36} {'count':>5} {'ms':>7} {'share':>6} {'XNNPACK':>8} {'GFLOP/s':>8}"
                 + (" % sgemm" if sgemm_gflops else ""))
    for key, (count, ms, delegated, flops) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        rate = flops / ms / 1e6
        efficiency = f"{rate:>8.1f}" if flops else f"{'-':>8}"
        if flops and sgemm_gflops:
            efficiency += f" {100 * rate / sgemm_gflops:>6.0f}%"
        lines.append(f"  {key:<36} {count:>5} {ms:>7.3f} {100 * ms / total:>5.1f}% {delegated:>4}/{count:<3} "
                     f"{efficiency}")
    lines.append("  costliest operators:")
    for r in sorted(ops, key=lambda r: -r["ms"])[:top]:
        shape = "x".join(map(str, r["shape"]))
        rate = f"{r['flops'] / r['ms'] / 1e6:>6.1f} GFLOP/s" if r["flops"] else f"{'':>14}"
        lines.append(f"  #{r['index']:<3} {r['op']:<18} {shape:<16} {r['ms']:>7.3f} ms {rate} "
                     f"{'' if r['xnnpack'] else 'NOT XNNPACK '}{r['output'][-50:]}")
    return "\n".join(lines)


def compare_profiles(int8: dict, float32: dict) -> str:
    """The int8 and float32 files of one model side by side, by operator type and by part of the network
    (input head, backbone, ASPP, decoder, logits tail): where int8 saves time and where it does not."""

    def part(row: dict) -> str:
        name = row["output"]
        if row["op"] in ("QUANTIZE", "DEQUANTIZE") or row["op"] in ("MUL", "SUB") and row["shape"][-1] == 3:
            return "input/output conversion"
        if row["op"] == "RESIZE_BILINEAR" and "decoder" not in name and "aspp" not in name:
            return "logits upsampling"
        for key in ("aspp", "decoder", "classifier"):
            if key in name:
                return key
        return "backbone"

    lines = [f"  int8 against float32, summed one-operator times: {'part':<24} {'int8 ms':>8} {'float32 ms':>10} "
             f"{'fp32/int8':>9}"]
    for key in ("op", part):
        sums: dict = defaultdict(lambda: [0.0, 0.0])
        for i, rows in enumerate((int8["ops"], float32["ops"])):
            for row in rows:
                sums[key(row) if callable(key) else row[key]][i] += row["ms"]
        for name, (a, b) in sorted(sums.items(), key=lambda kv: -kv[1][0]):
            ratio = f"{b / a:9.2f}" if a else "        -"
            lines.append(f"  {'by part' if callable(key) else 'by operator':<48} {name:<24} {a:>8.3f} {b:>10.3f} "
                         f"{ratio}")
    a = sum(r["ms"] for r in int8["ops"])
    b = sum(r["ms"] for r in float32["ops"])
    lines.append(f"  {'total':<48} {'':<24} {a:>8.3f} {b:>10.3f} {b / a:9.2f}   (full models: "
                 f"{int8['full_ms']:.3f} and {float32['full_ms']:.3f} ms, {float32['full_ms'] / int8['full_ms']:.2f})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    profiles = op_profile(args.paths, args.runs, args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for path in args.paths:
        print(format_profile(path, profiles[path], args.top))
    if len(args.paths) == 2:
        print(compare_profiles(profiles[args.paths[0]], profiles[args.paths[1]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
