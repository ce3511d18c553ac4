"""Latency, FLOPs and achieved GFLOP/s of exports, and the machine's sgemm peak to compare them with.

Conventions follow the project's peer measurements (``shared/reference/peers.md``): batch 1, LiteRT
``num_threads=2`` (XNNPACK), median of the timed ``invoke()`` calls after warm-up calls; GFLOPs = 2 × the
multiply-adds of the convolution, depthwise, transposed-convolution and fully-connected ops counted from the
tensor shapes of the ``.tflite`` file; int8 rows are credited with the same (float-equivalent) FLOPs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from kerasseg.export.flatbuffer import tflite_op_list
from kerasseg.export.runner import tflite_interpreter


def tflite_flops(path: str) -> float:
    """2 × multiply-adds of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED ops (float-equivalent)."""
    return sum(op_flops(op) for op in tflite_op_list(path)) / 1e9


def op_flops(op: dict) -> int:
    """2 × multiply-adds of one operator of :func:`tflite_op_list` (0 for operators that are not counted)."""
    name, inputs, outputs = op["op"], op["inputs"], op["outputs"]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        kernel = inputs[1]["shape"]  # conv (Cout, kh, kw, Cin); depthwise (1, kh, kw, C)
        per_output = kernel[1] * kernel[2] * (kernel[3] if name == "CONV_2D" else 1)
        return 2 * int(np.prod(outputs[0]["shape"])) * per_output
    if name == "TRANSPOSE_CONV":
        kernel, x = inputs[1]["shape"], inputs[2]["shape"]  # kernel (Cout, kh, kw, Cin), x (1, h, w, Cin)
        return 2 * int(np.prod(x)) * kernel[0] * kernel[1] * kernel[2]
    if name == "FULLY_CONNECTED":
        weights = inputs[1]["shape"]  # (out, in)
        return 2 * int(np.prod(outputs[0]["shape"])) * weights[1]
    return 0


def _sample_input(detail: dict, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 255, detail["shape"])
    return np.rint(pixels).astype(detail["dtype"]) if detail["dtype"] != np.float32 else pixels.astype("float32")


def litert_latency(path: str, num_threads: int = 2, runs: int = 30, warmup: int = 3) -> dict:
    """Median and spread of ``invoke()`` wall time in milliseconds over ``runs`` calls after ``warmup`` calls."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    interpreter = tflite_interpreter(path, num_threads)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], _sample_input(detail))
    return _timed(interpreter.invoke, runs, warmup)


def keras_latency(model, size: tuple[int, int], runs: int = 30, warmup: int = 3) -> dict:
    """``tf.function(model(x, training=False))`` plus ``.numpy()`` on one (1, H, W, 3) image, in milliseconds."""
    import tensorflow as tf

    from kerasseg.models.contract import inference_model

    model = inference_model(model)
    call = tf.function(lambda x: model(x, training=False))
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, *size, 3)).astype("float32"))
    return _timed(lambda: call(x).numpy(), runs, warmup)


def _timed(call, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    p10, median, p90 = (float(v) for v in np.percentile(times, (10, 50, 90)))
    return {"median_ms": median, "p10_ms": p10, "p90_ms": p90, "runs": len(times)}


_SGEMM = """
import time, numpy as np
n = {n}
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range({repeats}))
print(2 * n ** 3 / best / 1e9)
"""


def sgemm_gflops(num_threads: int = 2, n: int = 4096, repeats: int = 5) -> float:
    """numpy float32 matmul n³, best of ``repeats``, with BLAS limited to ``num_threads`` (in a child process,
    since BLAS reads its thread count when it loads)."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(num_threads)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    out = subprocess.run([sys.executable, "-c", _SGEMM.format(n=n, repeats=repeats)], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def benchmark_row(path: str, name: str, num_threads: int = 2, runs: int = 30, quantization: str | None = None) -> dict:
    """Size, FLOPs, LiteRT latency and achieved GFLOP/s of one ``.tflite`` file exported in ``quantization``
    (default: read from its tensor types)."""
    from kerasseg.export.flatbuffer import tflite_quantization
    from kerasseg.export.runner import tflite_input_size

    latency = litert_latency(path, num_threads, runs)
    gflops = tflite_flops(path)
    return {
        "model": name,
        "runtime": f"LiteRT {quantization or tflite_quantization(path)}",
        "input": list(tflite_input_size(path)),
        "bytes": os.path.getsize(path),
        "gflops": gflops,
        **latency,
        "gflop_per_s": gflops / latency["median_ms"] * 1000,
    }


def benchmark_table(model, input_size: tuple[int, int] | None = None, *, modes=None,
                    calibration: str | None = None, runs: int = 30, num_threads: int = 2,
                    keras: bool = True) -> list[dict]:
    """Rows of :func:`benchmark_row` for a ``.tflite`` file, or for a Keras model (``.keras`` path or object):
    its Keras call (``keras=True``) and each TFLite mode in ``modes`` (default float32 and int8), exported to a
    temporary folder. Every option is checked first, for both kinds: a ``.tflite`` file is timed as it is, so
    ``modes`` and ``calibration`` are refused for it, and ``input_size`` must be its own."""
    import tempfile

    from kerasseg.export.tflite import QUANTIZATIONS, to_tflite_modes

    unknown = [mode for mode in modes or () if mode not in QUANTIZATIONS]
    if unknown or (modes is not None and not modes):
        raise ValueError(f"modes {list(modes)}: valid modes are {', '.join(QUANTIZATIONS)}")
    if isinstance(model, str) and model.lower().endswith(".tflite"):
        _check_tflite_options(model, input_size, modes, calibration)
        return [benchmark_row(model, os.path.basename(model), num_threads, runs)]
    from kerasseg.export.check_data import load_check_data, synthetic_check_data
    from kerasseg.export.preparation import prepare

    modes = modes or ("float32", "int8")

    if isinstance(model, str):
        from kerasseg.evaluation import load_model

        model = load_model(model)
    prepared = prepare(model, input_size)
    model, size = prepared.reference, prepared.size
    rows = []
    if keras:
        rows.append({"model": model.name, "runtime": "Keras (TF)", "input": list(size), "bytes": None,
                     "gflops": None, **keras_latency(model, size, runs), "gflop_per_s": None})
    data = load_check_data(calibration, size) if calibration else synthetic_check_data(size)
    with tempfile.TemporaryDirectory() as tmp:
        paths = to_tflite_modes(prepared.with_data(data.images), tmp, modes, metadata=False)
        rows += [benchmark_row(path, model.name, num_threads, runs, mode) for mode, path in paths.items()]
    flops = next((r["gflops"] for r in rows if r["gflops"]), None)
    for row in rows:
        if row["gflops"] is None and flops:
            row["gflop_per_s"] = flops / row["median_ms"] * 1000
    return rows


def _check_tflite_options(path: str, input_size, modes, calibration) -> None:
    from kerasseg.export.runner import tflite_input_size

    given = [name for name, value in (("modes", modes), ("calibration", calibration))
             if value is not None]
    if given:
        refused = ", ".join(f"{name} must not be given" for name in given)
        raise ValueError(f"{path} is an export, timed as it is: {refused} (only a .keras model is exported first)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"export {path} does not exist")
    if input_size is not None and tuple(input_size) != tuple(tflite_input_size(path)):
        size = tflite_input_size(path)
        raise ValueError(f"input_size {tuple(input_size)}: {path} takes {size[0]}x{size[1]} inputs "
                         "only (leave it out, or export the .keras model at that size)")


def format_benchmark(rows: list[dict], sgemm: float | None = None) -> str:
    """A table of benchmark rows; with ``sgemm`` (GFLOP/s) a column of the share of the machine's peak."""
    header = f"{'model':<34} {'runtime':<18} {'input':>9} {'MB':>7} {'GFLOPs':>7} {'median ms':>10} {'GFLOP/s':>8}"
    lines = [header + ("  % sgemm" if sgemm else ""), "-" * (len(header) + (9 if sgemm else 0))]
    for r in rows:
        size = f"{r['bytes'] / 1e6:.2f}" if r["bytes"] else "-"
        gflops = f"{r['gflops']:.3f}" if r["gflops"] else "-"
        rate = f"{r['gflop_per_s']:.1f}" if r["gflop_per_s"] else "-"
        line = (f"{r['model'][:34]:<34} {r['runtime']:<18} {r['input'][0]:>4}x{r['input'][1]:<4} {size:>7} "
                f"{gflops:>7} {r['median_ms']:>10.2f} {rate:>8}")
        if sgemm:
            line += f"  {100 * r['gflop_per_s'] / sgemm:6.0f}%" if r["gflop_per_s"] else "       -"
        lines.append(line)
    return "\n".join(lines)
