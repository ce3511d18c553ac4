"""Multi-worker training (kerasseg.training.strategy): TF_CONFIG, each worker's input share, and two real worker
processes on 127.0.0.1 against one process, including a worker killed mid-epoch and the job restarted."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasseg import training
from kerasseg.data import load_dataset, make_train_pipeline
from kerasseg.training import strategy as distribute

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "multiworker_worker.py"
STEPS = 4  # 16 training images, global batch 4
# float32 all-reduce sums in another order than one process: after 8 SGD steps the weights differ by ~3e-8
WEIGHT_TOLERANCE = 1e-6
TIMEOUT = 240  # seconds for one run of the job (two workers on a shared 2-core machine)


def write_folder_dataset(root: Path, train: int = 16, val: int = 5, size: int = 32) -> str:
    """``folder:`` data whose pixel colour gives the class; an image's id is its pixel (0, 0) red value."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("val", val)):
        for i in range(count):
            labels = rng.integers(0, 3, (size, size)).astype(np.uint8)
            image = (np.eye(3)[labels] * 200 + rng.uniform(0, 55, (size, size, 3))).astype(np.uint8)
            image[0, 0, 0] = i
            for folder, array in (("images", image), ("masks", labels)):
                (root / folder / split).mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(root / folder / split / f"{i:02d}.png")
    return f"folder:{root / 'images'}:{root / 'masks'}"


def cluster_config(ports, index: int) -> str:
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def train_args(data: str, out: Path, epochs: int, strategy: str) -> list[str]:
    # scale >= 1: no padded (ignored) pixels, so the loss of a split batch averages like the whole batch
    return [
        "train", "--model", "tiny_mw", "--data", data, "--epochs", str(epochs), "--batch-size", "4",
        "--input-size", "32", "32", "--scale-range", "1", "2", "--optimizer", "sgd", "--lr", "0.1",
        "--no-class-weights", "--no-tensorboard", "--seed", "3", "--out", str(out), "--strategy", strategy,
    ]  # fmt: skip


class Job:
    """Worker processes of one run; ``stop()`` kills whatever is still running (and is always called)."""

    def __init__(self, tmp: Path, name: str):
        self.tmp, self.name, self.procs = tmp, name, []

    def start(self, args, index=None, ports=None, **env) -> subprocess.Popen:
        environ = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **env}
        environ.pop("TF_CONFIG", None)
        if index is not None:
            environ["TF_CONFIG"] = cluster_config(ports, index)
        log = open(self.tmp / f"{self.name}-{index}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            env=environ,
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def wait(self, proc, deadline: float) -> int:
        try:
            return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name}: a worker ran past the time limit\n{self.logs()}") from None

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.tmp.glob(f"{self.name}-*.log"))
        )

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def job(tmp_path):
    jobs = []

    def make(name):
        jobs.append(Job(tmp_path, name))
        return jobs[-1]

    yield make
    for j in jobs:
        j.stop()


def run_workers(job: Job, args, ports, **env) -> list[dict]:
    """Starts one process per port, waits for both, returns what each recorded (ids, multi_worker)."""
    deadline = time.monotonic() + TIMEOUT
    procs = [
        job.start(args, i, ports, KERASSEG_IDS=str(job.tmp / f"{job.name}-ids{i}.json"), **env)
        for i in (0, 1)
    ]
    codes = [job.wait(p, deadline) for p in procs]
    assert codes == [0, 0], f"{job.name}: exit codes {codes}\n{job.logs()}"
    return [json.loads((job.tmp / f"{job.name}-ids{i}.json").read_text()) for i in (0, 1)]


def read_log(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def load(path: Path) -> keras.Model:
    import kerasseg.losses  # noqa: F401  (registers the loss and metric the saved model was compiled with)
    import kerasseg.metrics  # noqa: F401

    return keras.models.load_model(path)


# --- TF_CONFIG --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tf_config_roles(monkeypatch, tmp_path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert (distribute.num_workers(), distribute.is_chief(), distribute.worker_dir(tmp_path)) == (
        1,
        True,
        tmp_path,
    )
    monkeypatch.setenv("TF_CONFIG", cluster_config([1, 2, 3], 2))
    assert (distribute.num_workers(), distribute.worker_index(), distribute.is_chief()) == (3, 2, False)
    assert (
        distribute.worker_dir(tmp_path) == tmp_path / "workertemp_2" and (tmp_path / "workertemp_2").is_dir()
    )
    distribute.remove_worker_dir(tmp_path)
    assert not (tmp_path / "workertemp_2").exists()
    # with a "chief" task, the chief writes and worker i is input pipeline i + 1
    chief = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}}
    monkeypatch.setenv("TF_CONFIG", json.dumps({**chief, "task": {"type": "chief", "index": 0}}))
    assert (distribute.num_workers(), distribute.worker_index(), distribute.is_chief()) == (3, 0, True)
    monkeypatch.setenv("TF_CONFIG", json.dumps({**chief, "task": {"type": "worker", "index": 0}}))
    assert (distribute.worker_index(), distribute.is_chief()) == (1, False)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribute.num_workers()


def test_auto_strategy_is_multi_worker_when_tf_config_names_several_workers(monkeypatch):
    sentinel = object()
    with mock.patch.object(distribute, "multi_worker_strategy", return_value=sentinel):
        monkeypatch.setenv("TF_CONFIG", cluster_config([1, 2], 0))
        assert training.get_strategy("auto") is sentinel
        assert training.get_strategy("multiworker") is sentinel
        monkeypatch.setenv("TF_CONFIG", cluster_config([1], 0))  # a one-worker cluster: the local choice
        assert training.get_strategy("auto") is not sentinel


# --- each worker's input share ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("lazy", [True, False], ids=["files", "in-memory"])
def test_worker_shares_together_make_the_single_process_batches(tmp_path, lazy):
    spec = write_folder_dataset(tmp_path, train=18, val=0)  # 18 = 4 global batches of 4 and 2 left over
    raw = load_dataset(spec, "train")[0]
    if not lazy:
        raw = tf.data.Dataset.from_tensor_slices(
            tuple(np.stack(a) for a in zip(*raw.as_numpy_iterator(), strict=True))
        )
    options = {"crop_size": (24, 24), "seed": 5}
    whole = list(make_train_pipeline(raw, 4, **options).as_numpy_iterator())
    shares = [list(make_train_pipeline(raw, 4, worker=(i, 2), **options).as_numpy_iterator()) for i in (0, 1)]
    assert len(whole) == len(shares[0]) == len(shares[1]) == 4
    for step, (images, masks) in enumerate(whole):
        first, second = shares[0][step], shares[1][step]
        # worker i gets slice i of every global batch, augmented exactly as in one process
        np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), images)
        np.testing.assert_array_equal(np.concatenate([first[1], second[1]]), masks)
    with pytest.raises(ValueError, match="does not divide among 3 workers"):
        make_train_pipeline(raw, 4, worker=(0, 3), **options)


# --- real worker processes --------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_workers_train_like_one_process_with_the_same_global_batch(tmp_path, job):
    data = write_folder_dataset(tmp_path)
    epochs, ports = 2, free_ports(2)
    start = time.monotonic()
    single = job("single")
    reference = single.start(
        train_args(data, tmp_path / "single", epochs, "auto"), KERASSEG_IDS=str(tmp_path / "single-ids.json")
    )
    workers = run_workers(job("multi"), train_args(data, tmp_path / "multi", epochs, "multiworker"), ports)
    assert single.wait(reference, start + TIMEOUT) == 0, single.logs()

    assert [w["multi_worker"] for w in workers] == [True, True]
    assert not json.loads((tmp_path / "single-ids.json").read_text())["multi_worker"]
    # each worker augments its own 8 examples per epoch: disjoint, and together the 16
    per_worker = STEPS * 4 // 2
    for epoch in range(epochs):
        first, second = (set(w["ids"][epoch * per_worker : (epoch + 1) * per_worker]) for w in workers)
        assert len(first) == len(second) == per_worker and not first & second
        assert first | second == set(range(16))

    # only the chief writes, and its log is complete
    out = tmp_path / "multi"
    assert sorted(p.name for p in out.iterdir()) == [
        "backup", "best.json", "best.keras", "best_scores.json", "last.keras", "log.csv", "run.json"
    ]  # fmt: skip
    multi_log, single_log = read_log(out / "log.csv"), read_log(tmp_path / "single" / "log.csv")
    assert [row["epoch"] for row in multi_log] == [str(e) for e in range(epochs)]
    for many, one in zip(multi_log, single_log, strict=True):
        for key in ("loss", "miou", "val_miou"):  # val_miou: 5 images on 2 workers, one padded (ignored) copy
            assert float(many[key]) == pytest.approx(float(one[key]), rel=1e-5, abs=1e-6), key

    multi, one = load(out / "last.keras"), load(tmp_path / "single" / "last.keras")
    assert int(multi.optimizer.iterations) == int(one.optimizer.iterations) == epochs * STEPS  # global steps
    for a, b in zip(multi.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=WEIGHT_TOLERANCE)
    difference = max(
        float(np.abs(a - b).max()) for a, b in zip(multi.get_weights(), one.get_weights(), strict=True)
    )
    print(
        f"largest weight difference after {epochs * STEPS} steps: {difference:.2e}; {time.monotonic() - start:.0f} s"
    )


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_resumes_after_restart(tmp_path, job):
    data = write_folder_dataset(tmp_path)
    epochs, out = 3, tmp_path / "run"
    args = train_args(data, out, epochs, "auto")  # auto: TF_CONFIG names two workers
    first, ports = job("first"), free_ports(2)
    deadline = time.monotonic() + TIMEOUT
    chief = first.start(args, 0, ports)
    # worker 1 kills itself when it starts augmenting its 3rd example of the 2nd epoch (8 per epoch)
    victim = first.start(args, 1, ports, KERASSEG_KILL_AT=str(8 + 3))
    assert first.wait(victim, deadline) == -signal.SIGKILL, first.logs()
    first.stop()  # TF: a failed worker fails the job; restart every worker
    assert chief.returncode != 0
    assert [row["epoch"] for row in read_log(out / "log.csv")] == ["0"]
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    restart = job("restart")
    workers = run_workers(restart, args, free_ports(2))
    assert [w["multi_worker"] for w in workers] == [True, True]
    for index in (0, 1):
        assert f"resuming {out} at epoch 2 of {epochs}" in (tmp_path / f"restart-{index}.log").read_text()
    # the restarted job trained epochs 2 and 3 only: 8 examples per worker and epoch
    assert [len(w["ids"]) for w in workers] == [(epochs - 1) * 8] * 2
    rows = read_log(out / "log.csv")
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]  # none repeated, none lost
    assert int(load(out / "last.keras").optimizer.iterations) == epochs * STEPS
    assert not list(out.glob("workertemp_*"))  # backup/ stays: a finished run can be extended
