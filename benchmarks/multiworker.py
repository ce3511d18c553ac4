"""Training throughput of one process against two local workers (MultiWorkerMirroredStrategy on 127.0.0.1), and
the gradient all-reduce time per step.

    python benchmarks/multiworker.py [--size 64] [--examples 64] [--batch-size 8] [--epochs 2]

Each run trains U-Net (base width 8, batch norm) on synthetic images through ``make_train_pipeline`` (scale, crop,
flip, colour jitter with albumentations), same global batch in both runs; the workers read their own share of
each batch (``kerasseg.training.strategy``). Figures are from the chief, after one warm-up epoch. Two workers on one
machine share its cores, so no speed-up is expected: the difference is the cost of the collective ops and of
running two TensorFlow processes. The all-reduce is timed alone, on tensors shaped like the model's gradients.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def synthetic(count: int, size: int):
    """``count`` images whose colour gives the class, as an in-memory ``tf.data.Dataset``."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (count, size, size)).astype(np.int32)
    images = (np.eye(3, dtype=np.float32)[labels] * 200 + rng.uniform(0, 55, (count, size, size, 3))).astype(
        np.float32
    )
    return tf.data.Dataset.from_tensor_slices((images, labels))


def measure(args) -> dict:
    """Trains in this process (a worker when TF_CONFIG is set) and returns the chief's figures."""
    from kerasseg import training
    from kerasseg.data import make_train_pipeline
    from kerasseg.training import strategy as distribute

    strategy = training.get_strategy("auto")  # first: before any other TensorFlow op
    import keras
    import tensorflow as tf

    multi = distribute.in_multi_worker_mode(strategy)
    worker = (distribute.worker_index(), distribute.num_workers()) if multi else None
    data = make_train_pipeline(
        synthetic(args.examples, args.size), args.batch_size, crop_size=(args.size, args.size), worker=worker
    )
    steps = args.examples // args.batch_size
    with strategy.scope():
        model = training.build_model("unet", 3, base_filters=8)
        training.compile_model(model, 3, epochs=args.epochs + 1, steps_per_epoch=steps)
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    fit_data = distribute.distribute_dataset(strategy, data, per_worker=True)
    model.fit(fit_data, epochs=args.epochs + 1, callbacks=[EpochTimer()], verbose=0)
    timed = times[1:]  # the first epoch traces the step function
    result = {
        "images_per_s": steps * args.batch_size * len(timed) / sum(timed),
        "step_ms": 1000 * sum(timed) / (steps * len(timed)),
        "parameters": model.count_params(),
    }
    if multi:
        gradients = [tf.zeros_like(v) for v in model.trainable_variables]

        @tf.function
        def all_reduce():
            context = tf.distribute.get_replica_context
            return strategy.run(lambda: context().all_reduce(tf.distribute.ReduceOp.SUM, gradients))

        for _ in range(3):
            all_reduce()
        start = time.perf_counter()
        for _ in range(args.reductions):
            all_reduce()
        result["all_reduce_ms"] = 1000 * (time.perf_counter() - start) / args.reductions
        result["gradient_mb"] = sum(int(tf.size(g)) * 4 for g in gradients) / 1e6
    return result


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run(args, workers: int) -> dict:
    """Starts ``workers`` processes of this script (one without TF_CONFIG) and returns the chief's figures."""
    ports = free_ports(workers)
    command = [sys.executable, __file__, "--role", "worker", *sys.argv[1:]]
    procs = []
    try:
        for index in range(workers):
            env = dict(os.environ)
            env.pop("TF_CONFIG", None)
            if workers > 1:
                cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
                env["TF_CONFIG"] = json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                )
            procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
        outputs = [proc.communicate(timeout=args.timeout)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    if any(proc.returncode for proc in procs):
        raise SystemExit(f"a worker failed (exit codes {[p.returncode for p in procs]})")
    return json.loads(outputs[0].strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8, help="global batch")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--reductions", type=int, default=50, help="all-reduce repetitions")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--role", default="main", choices=("main", "worker"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "worker":
        print(json.dumps(measure(args)), flush=True)
        return
    one, two = run(args, 1), run(args, 2)
    print(
        f"U-Net base width 8 ({one['parameters']:,} parameters), {args.size}x{args.size}, global batch "
        f"{args.batch_size}, {args.examples // args.batch_size} steps/epoch, {os.cpu_count()} CPU cores"
    )
    print(f"{'':<22}{'images/s':>10}{'ms/step':>10}")
    print(f"{'one process':<22}{one['images_per_s']:>10.1f}{one['step_ms']:>10.1f}")
    print(f"{'two local workers':<22}{two['images_per_s']:>10.1f}{two['step_ms']:>10.1f}")
    print(f"two workers / one: {two['images_per_s'] / one['images_per_s']:.2f}x throughput")
    print(
        f"gradient all-reduce: {two['all_reduce_ms']:.1f} ms per step ({two['gradient_mb']:.2f} MB of float32, "
        f"{100 * two['all_reduce_ms'] / two['step_ms']:.0f}% of a two-worker step)"
    )


if __name__ == "__main__":
    main()
