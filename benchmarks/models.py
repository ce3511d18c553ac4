"""Parameters, GFLOPs, output stride and CPU latency of every registered architecture at 512×512.

    python benchmarks/models.py [--size 512] [--models fcn8s,pspnet] [--runs 5] [--litert] [--markdown] [--json PATH]

Each architecture in ``kerasseg.models.list_models()`` is built in its paper configuration
(``model_info(name).builder(classes=21, input_shape=(size, size, 3), weights=None)``; an auxiliary head, as
PSPNet's, dropped with ``inference_model``) and measured at batch 1:

- parameters of the inference model;
- GFLOPs = 2 × the multiply-adds of the convolution, depthwise, transposed-convolution and fully-connected
  ops of the model's float32 TFLite export, counted by ``kerasseg.export.profile.tflite_flops`` (the project's
  one FLOP counter; tests/test_benchmark_models.py checks it against hand counts);
- output stride (OS): the builder's ``output_stride`` argument where it has one (DeepLab v2/v3/v3+, PSPNet),
  otherwise measured: input size / size of the coarsest feature map that a spatial (k > 1) convolution or a
  max pooling produces;
- CPU latency of ``tf.function(model(x, training=False))`` plus ``.numpy()``: median of N timed calls after one
  warm-up call. N is ``--runs`` (default 5), lowered for heavy models so that their timed calls take about
  ``--budget`` seconds, but never below 3 (or ``--runs``);
- with ``--litert``: LiteRT float32 latency (XNNPACK, 2 threads, same N) of that export via
  ``kerasseg.export.profile``.

The full run over the 15 architectures of issue #3 takes 11 min on 2 CPU cores at load average 2–10, 19 min at 7–12.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasseg.models import inference_model, list_models, model_info  # noqa: E402

CLASSES = 21
_SPATIAL_CONVS = ("Conv2D", "DepthwiseConv2dNative")


def paper_model(name: str, size: int, classes: int = CLASSES) -> keras.Model:
    """The registered architecture ``name`` in its paper configuration at (size, size), without auxiliary head."""
    builder = model_info(name).builder
    return inference_model(builder(classes=classes, input_shape=(size, size, 3), weights=None))


def default_argument(name: str, argument: str):
    """The default of one of the builder's keyword arguments (``backbone``, ``output_stride``), or None."""
    parameter = inspect.signature(model_info(name).builder).parameters.get(argument)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def default_backbone(name: str) -> str | None:
    """The builder's default backbone, else the one its paper fixes (FCN's VGG16), else None (U-Net's own)."""
    backbones = model_info(name).backbones
    default = default_argument(name, "backbone")
    return backbones[0] if default is None and len(backbones) == 1 else default


def traced_graph(model: keras.Model, size: int):
    """``tf.function(model(x, training=False))`` and its concrete function for a (1, size, size, 3) input."""
    call = tf.function(lambda x: model(x, training=False), autograph=False)
    concrete = call.get_concrete_function(tf.TensorSpec((1, size, size, 3), tf.float32))
    return call, concrete


def _static_shape(tensor) -> list[int]:
    shape = tensor.shape
    if shape.rank is None or None in shape.as_list():
        raise ValueError(f"{tensor.name} has no static shape ({shape}): FLOPs need a fixed input size")
    return shape.as_list()


def _conv_output_shape(op) -> list[int]:
    """The shape a convolution really produces. A dilated convolution is traced as SpaceToBatchND → conv →
    BatchToSpaceND, whose inner conv also covers the padding added for the block size; the BatchToSpaceND output
    (through a BiasAdd) is the convolution's true output."""
    tensor = op.outputs[0]
    while True:
        consumers = tensor.consumers()
        if len(consumers) != 1 or consumers[0].type not in ("BiasAdd", "Identity", "BatchToSpaceND"):
            return _static_shape(op.outputs[0])
        if consumers[0].type == "BatchToSpaceND":
            return _static_shape(consumers[0].outputs[0])
        tensor = consumers[0].outputs[0]


def _max_pooling_heights(model: keras.Model) -> list[int]:
    """Output heights of the max-pooling layers (Keras' and SegNet's pooling with indices), nested models
    included; a layer whose output size is not static (a shared sub-model) is left to the convolutions."""
    heights = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            heights += _max_pooling_heights(layer)
        elif "MaxPool" in type(layer).__name__:
            try:
                height = keras.tree.flatten(layer.output)[0].shape[1]
            except (AttributeError, ValueError):  # called more than once: no single output
                continue
            if height is not None:
                heights.append(int(height))
    return heights


def measured_output_stride(model: keras.Model, graph, size: int) -> int | float:
    """Input size / height of the coarsest feature map that a convolution with a k > 1 kernel or a max pooling
    produces (1×1 convolutions and average pooling are skipped: those of pyramid and image-level pooling run on
    pooled context maps, not on the encoder's features)."""
    heights = _max_pooling_heights(model)
    for op in graph.get_operations():
        if op.type in _SPATIAL_CONVS:
            kh, kw = _static_shape(op.inputs[1])[:2]
            if kh > 1 or kw > 1:
                heights.append(_conv_output_shape(op)[1])
    if not heights:
        raise ValueError("the graph has no spatial convolution to measure the output stride from")
    stride = size / min(heights)
    return int(stride) if stride.is_integer() else round(stride, 2)


def time_calls(call, x, runs: int, budget_s: float, min_runs: int = 3) -> dict:
    """One warm-up call, then N timed calls (N = ``runs``, lowered to fit ``budget_s`` but at least
    ``min(min_runs, runs)``); median and 10th/90th percentiles in milliseconds."""
    start = time.perf_counter()
    call(x)
    warmup_s = time.perf_counter() - start
    n = min(runs, max(min_runs, int(budget_s // max(warmup_s, 1e-6))))
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call(x)
        times.append(1000 * (time.perf_counter() - start))
    t = np.asarray(times)
    return {
        "median_ms": float(np.median(t)),
        "p10_ms": float(np.percentile(t, 10)),
        "p90_ms": float(np.percentile(t, 90)),
        "runs": n,
        "warmup_ms": 1000 * warmup_s,
    }


def float32_export(model: keras.Model, size: int, directory: str) -> str:
    """The model's float32 TFLite export, where its FLOPs are counted (``kerasseg.export.profile.tflite_flops``)."""
    from kerasseg.export import to_tflite

    return to_tflite(model, os.path.join(directory, "model.tflite"), "float32", input_size=(size, size))


def litert_row(path: str, runs: int) -> dict:
    """LiteRT float32 latency (2 threads) and size of the float32 TFLite export at ``path``."""
    from kerasseg.export.profile import litert_latency

    latency = litert_latency(path, num_threads=2, runs=runs, warmup=1)
    return {"litert_ms": latency["median_ms"], "tflite_mb": os.path.getsize(path) / 2**20}


def benchmark_model(name: str, size: int, runs: int, budget_s: float, litert: bool = False) -> dict:
    """One row of the table for the registered architecture ``name``."""
    start = time.perf_counter()
    model = paper_model(name, size)
    call, concrete = traced_graph(model, size)
    configured = default_argument(name, "output_stride")
    measured = measured_output_stride(model, concrete.graph, size)
    from kerasseg.export.profile import tflite_flops

    directory = tempfile.TemporaryDirectory()
    path = float32_export(model, size, directory.name)
    row = {
        "model": name,
        "backbone": default_backbone(name),
        "params": int(model.count_params()),
        "gflops": tflite_flops(path),
        "output_stride": configured if configured is not None else measured,
        "output_stride_measured": measured,
    }
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32"))
    latency = time_calls(lambda image: call(image).numpy(), x, runs, budget_s)
    row.update(
        latency_ms=latency["median_ms"],
        latency_p10_ms=latency["p10_ms"],
        latency_p90_ms=latency["p90_ms"],
        runs=latency["runs"],
        gflops_per_s=row["gflops"] / (latency["median_ms"] / 1000),
        load_1m=round(os.getloadavg()[0], 1),  # right after the timed calls: how shared the cores were
    )
    if litert:
        try:
            row.update(litert_row(path, latency["runs"]))
        except Exception as err:  # keep the Keras figures of a model that LiteRT does not run
            row["litert_error"] = _first_line(err)
    directory.cleanup()
    row["seconds"] = time.perf_counter() - start
    return row


def benchmark(
    names, size: int = 512, runs: int = 5, budget_s: float = 60.0, litert: bool = False, progress=None
) -> list[dict]:
    """Rows for ``names`` (all registered architectures when None). A model that fails to build, trace, run or
    convert gets a row with its ``error`` and the others go on; Keras' state is cleared between models."""
    names = list_models() if names is None else list(names)
    for name in names:
        model_info(name)  # an unknown name fails here, listing the valid ones, before the long run starts
    rows = []
    for i, name in enumerate(names, 1):
        try:
            row = benchmark_model(name, size, runs, budget_s, litert)
        except Exception as err:  # a failing architecture is reported, not fatal for the table
            row = {"model": name, "error": _first_line(err)}
        rows.append(row)
        keras.backend.clear_session()
        gc.collect()
        if progress is not None:
            progress(f"[{i}/{len(names)}] {summary_line(row)}")
    return rows


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines() or [""]
    return f"{type(err).__name__}: {lines[0][:300]}"


def summary_line(row: dict) -> str:
    if "error" in row:
        return f"{row['model']}: FAILED {row['error']}"
    return (
        f"{row['model']}: {row['params'] / 1e6:.2f}M params, {row['gflops']:.1f} GFLOPs, OS {row['output_stride']}, "
        f"{row['latency_ms']:.0f} ms (N={row['runs']}), {row['seconds']:.0f} s"
    )


def environment() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()
        or "default (all cores)",
    }


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


COLUMNS = [  # (title, key, format)
    ("model", "model", "{}"),
    ("backbone", "backbone", "{}"),
    ("params (M)", "params", "{:.2f}"),
    ("GFLOPs", "gflops", "{:.1f}"),
    ("OS", "output_stride", "{}"),
    ("Keras CPU ms", "latency_ms", "{:.0f}"),
    ("p10–p90 ms", None, None),
    ("N", "runs", "{}"),
    ("GFLOP/s", "gflops_per_s", "{:.0f}"),
    ("load", "load_1m", "{:.1f}"),
]
LITERT_COLUMNS = [("LiteRT fp32 ms", "litert_ms", "{:.0f}")]


def _cell(row: dict, key, fmt) -> str:
    if key is None:
        return f"{row['latency_p10_ms']:.0f}–{row['latency_p90_ms']:.0f}"
    value = row.get(key)
    if key == "params":
        value = value / 1e6
    return "—" if value is None else fmt.format(value)


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """The successful rows as an aligned text table, or a Markdown table for the README."""
    columns = COLUMNS + (LITERT_COLUMNS if any("litert_ms" in r for r in rows) else [])
    body = [[_cell(r, key, fmt) for _, key, fmt in columns] for r in rows if "error" not in r]
    titles = [title for title, _, _ in columns]
    if markdown:
        lines = [
            "| " + " | ".join(titles) + " |",
            "|" + "|".join("---" if i < 2 else "---:" for i in range(len(titles))) + "|",
        ]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(c) for c in column) for column in zip(titles, *body, strict=True)]
    align = [str.ljust if i < 2 else str.rjust for i in range(len(titles))]

    def line(cells):
        return "  ".join(a(c, w) for a, c, w in zip(align, cells, widths, strict=True)).rstrip()

    return "\n".join([line(titles), line(["-" * w for w in widths])] + [line(cells) for cells in body])


def report(rows: list[dict], size: int, env: dict, load_start, load_end, markdown: bool = False) -> str:
    """Header (machine, load average), table, notes, and the architectures that failed."""
    head = [
        f"kerasseg architectures at {size}×{size}, batch 1, {CLASSES} classes, weights=None, paper configurations "
        "(auxiliary heads dropped)",
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']}, Python {env['python']}; CPU: {env['cpu']}, "
        f"{env['cores']} cores, TF intra-op threads {env['tf_intra_op_threads']}",
        f"Load average (1/5/15 min) at start {load_start}, at end {load_end} — a shared machine: latencies are noisy",
    ]
    notes = [
        "GFLOPs: 2 × multiply-adds of conv, depthwise, transposed-conv and FC ops of the float32 TFLite export "
        "(kerasseg.export.profile.tflite_flops).",
        "OS: the builder's output_stride, else input size / coarsest feature map of a k > 1 convolution or max pooling.",
        "Keras CPU ms: tf.function(model(x, training=False)) + .numpy(), batch 1, median of N timed calls after one "
        "warm-up call; p10–p90 spread of the N calls; GFLOP/s = GFLOPs / median; load: 1-minute load average "
        "right after the model's timed calls (2 cores: above 2, other processes shared them).",
    ]
    for r in rows:
        if "error" not in r and r["output_stride"] != r["output_stride_measured"]:
            notes.append(
                f"{r['model']}: output_stride {r['output_stride']}; coarsest feature map at stride "
                f"{r['output_stride_measured']} (measured)."
            )
    failed = [f"{r['model']}: {r['error']}" for r in rows if "error" in r]
    failed += [f"{r['model']} (TFLite float32): {r['litert_error']}" for r in rows if "litert_error" in r]
    if failed:
        notes.append("Failed to build, trace, run or convert at this size:")
        notes += [f"  {line}" for line in failed]
    if markdown:
        return "\n".join([*head, "", format_table(rows, True), "", *[f"- {n}" for n in notes]])
    return "\n".join([*head, "", format_table(rows), "", *notes])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="input height and width (default 512)")
    parser.add_argument("--models", default=None, help="comma-separated subset of the registered names")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per model, at most (default 5)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed calls per model that lower N for heavy models, N >= 3 (default 60)",
    )
    parser.add_argument("--litert", action="store_true", help="also LiteRT float32 latency and TFLite GFLOPs")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for the README")
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the rows and machine as JSON"
    )
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be positive, got {args.size}")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    env, load_start = environment(), _load()
    rows = benchmark(
        names,
        args.size,
        args.runs,
        args.budget,
        args.litert,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    load_end = _load()
    print(report(rows, args.size, env, load_start, load_end, args.markdown))
    if args.json:
        from kerasseg.files import write_atomic

        result = {
            "size": args.size,
            "classes": CLASSES,
            "environment": env,
            "load_average_start": load_start,
            "load_average_end": load_end,
            "rows": rows,
        }
        write_atomic(json.dumps(result, indent=2).encode(), args.json)
    return 1 if any("error" in r or "litert_error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
