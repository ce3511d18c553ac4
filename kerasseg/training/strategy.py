"""The ``tf.distribute`` strategy of a run (:func:`get_strategy`), and training on several machines:
``tf.distribute.MultiWorkerMirroredStrategy`` configured from ``TF_CONFIG``.

Follows TensorFlow's "Multi-worker training with Keras" guide
(https://www.tensorflow.org/tutorials/distribute/multi_worker_with_keras):

- every worker runs the same program with its own ``TF_CONFIG`` (``cluster`` and ``task``), and the strategy
  is created before any other TensorFlow op (collective ops are configured at program start-up);
- the chief (task ``chief``, else ``worker`` 0) writes the run's files; the other workers must still take part
  in every save, because saving may run collective ops, so they write to a temporary folder of their own
  (:func:`worker_dir`) that is deleted afterwards;
- a failed worker stops the job: restart every worker and the run's backup resumes at the last finished
  epoch (every worker restores the chief's backup, so all start from one state).

Input: each worker builds its share of every global batch itself (``distribute_datasets_from_function``), see
:func:`kerasseg.data.pipelines.worker_slice`; a ``tf.data.Dataset`` given by the user is instead sharded by
``tf.data`` with ``AutoShardPolicy.DATA`` (each worker runs the whole pipeline and keeps its part of each batch).
Validation examples are dealt round-robin (:func:`distribute_eval`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kerasseg.data.info import IGNORE_LABEL

STRATEGIES = ("auto", "one", "mirrored", "tpu", "multiworker")

_STRATEGY = None  # one per process: TensorFlow configures collective ops once, at start-up


def get_strategy(kind: str = "auto"):
    """A ``tf.distribute`` strategy: multi-worker when ``TF_CONFIG`` names several workers, TPU when present,
    Mirrored over several GPUs, else the default one.

    ``kind``: "auto" (that choice), "one" (``OneDeviceStrategy`` on the first GPU, else the CPU), "mirrored"
    (``MirroredStrategy`` over every GPU, the CPU when there is none), "tpu" (an error without a TPU) or
    "multiworker" (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, see :func:`multi_worker_strategy`; it must
    be created before any other TensorFlow op). Build and compile the model inside ``strategy.scope()``; ``train``
    does it.
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise ValueError(f"Unknown strategy {kind!r}; valid strategies: {', '.join(STRATEGIES)}")
    if kind == "multiworker" or (kind == "auto" and num_workers() > 1):
        return multi_worker_strategy()
    if kind in ("auto", "tpu"):
        resolver = _tpu_resolver()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if kind == "tpu":
            raise ValueError("strategy 'tpu': no TPU found (no TPU device, TPU_NAME or COLAB_TPU_ADDR)")
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if kind == "one":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def _tpu_resolver():
    """A TPU cluster resolver when this machine has (or is configured for) a TPU, else None; no network."""
    import tensorflow as tf

    if tf.config.list_physical_devices("TPU"):
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    return None


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` environment variable, ``{}`` when unset."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task', got {text[:200]}")
    return config


def num_workers() -> int:
    """How many training tasks (``chief`` and ``worker``) ``TF_CONFIG`` names; 1 without ``TF_CONFIG``."""
    cluster = tf_config().get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def task() -> tuple[str, int]:
    """This process' ``(type, index)`` from ``TF_CONFIG``; ``("worker", 0)`` without it."""
    info = tf_config().get("task", {})
    return str(info.get("type", "worker")), int(info.get("index", 0))


def worker_index() -> int:
    """This task's position among the training tasks, chief first: its input pipeline id."""
    kind, index = task()
    has_chief = bool(tf_config().get("cluster", {}).get("chief"))
    return index + 1 if has_chief and kind == "worker" else index


def is_chief() -> bool:
    """Whether this process writes the run's files: task ``chief``, or ``worker`` 0 in a cluster without one.

    Reference: TF multi-worker guide, "Model saving and loading" (``_is_chief``).
    """
    kind, index = task()
    if kind == "chief":
        return True
    has_chief = bool(tf_config().get("cluster", {}).get("chief"))
    return kind == "worker" and index == 0 and not has_chief


def worker_dir(out_dir) -> Path:
    """Where this worker writes: ``out_dir`` for the chief, ``out_dir/workertemp_<index>`` for the others.

    The others' folder is only a place for the saves they must take part in (TF guide, ``write_filepath``);
    :func:`remove_worker_dir` deletes it at the end.
    """
    out = Path(out_dir)
    if is_chief():
        return out
    mine = out / f"workertemp_{worker_index()}"
    mine.mkdir(parents=True, exist_ok=True)
    return mine


def remove_worker_dir(out_dir) -> None:
    """Deletes a non-chief worker's temporary folder; nothing on the chief."""
    import shutil

    if not is_chief():
        shutil.rmtree(worker_dir(out_dir), ignore_errors=True)


def multi_worker_strategy():
    """The process' ``MultiWorkerMirroredStrategy`` (created once, from ``TF_CONFIG``).

    Must run before any other TensorFlow op: ``kerasseg.training.train`` creates its strategy first.
    """
    global _STRATEGY
    if _STRATEGY is not None:
        return _STRATEGY
    import tensorflow as tf

    if num_workers() > 1 and not tf_config().get("task"):
        raise ValueError("TF_CONFIG names a cluster but no 'task' ({'type': 'worker', 'index': i})")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        if "program startup" not in str(error):
            raise
        raise RuntimeError(
            "MultiWorkerMirroredStrategy must be created before any other TensorFlow op in this process: "
            "call kerasseg.training.get_strategy('multiworker') (or train) first"
        ) from None
    from kerasseg import compat

    compat.fix_multi_worker_fit()
    _STRATEGY = strategy
    return strategy


def in_multi_worker_mode(strategy) -> bool:
    """Whether ``strategy`` spans several workers (a ``MultiWorkerMirroredStrategy`` with a cluster)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec()
    return sum(cluster.num_tasks(job) for job in cluster.jobs) > 1


def distribute_dataset(strategy, dataset, per_worker: bool):
    """The training data as ``model.fit`` should get it under ``strategy``.

    ``per_worker=True``: ``dataset`` is already this worker's share (``make_train_pipeline(worker=...)``),
    re-batched for its replicas when it has several GPUs; it is handed over with ``distribute_datasets_from_function``, which
    neither shards nor rebatches. Otherwise ``dataset`` is the global pipeline, and ``tf.data`` shards it with
    ``AutoShardPolicy.DATA`` (the pipeline must give every worker the same order: shuffle with a fixed seed).
    Single-worker strategies get ``dataset`` unchanged.
    """
    import tensorflow as tf

    if not in_multi_worker_mode(strategy):
        return dataset
    if per_worker:
        local = strategy.num_replicas_in_sync // num_workers()  # replicas (GPUs) on each worker
        if local > 1:  # a worker's share is split among its replicas (not exercised on CPU-only machines)
            batch = int(tf.nest.flatten(dataset.element_spec)[0].shape[0])
            if batch % local:
                raise ValueError(f"a worker's batch of {batch} does not divide among its {local} replicas")
            dataset = dataset.unbatch().batch(batch // local, drop_remainder=True)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        dataset = dataset.with_options(options)
        return strategy.distribute_datasets_from_function(lambda context: dataset)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def distribute_eval(strategy, dataset, ignore_label: int = IGNORE_LABEL):
    """This worker's share of a batched validation dataset ``(images, masks)``, as ``model.fit`` should get it.

    The examples are dealt round-robin to the workers, one example per batch; the set is first padded to a
    multiple of the replica count with copies whose masks are all ``ignore_label``, so every replica runs the
    same number of steps and none gets an empty batch (which Keras 3 does not evaluate correctly). The padding
    adds nothing to the confusion matrix, so the validation mIoU is the single-process one; ``val_loss`` counts
    the padding as zero-loss examples. Counting the examples reads the set once.
    """
    import tensorflow as tf

    if not in_multi_worker_mode(strategy):
        return dataset
    index, count, replicas = worker_index(), num_workers(), strategy.num_replicas_in_sync
    examples = dataset.unbatch()
    size = int(examples.reduce(0, lambda n, *_: n + 1))
    if size == 0:
        raise ValueError("the validation dataset is empty")

    def ignored(images, masks):
        return images, tf.nest.map_structure(
            lambda m: tf.fill(tf.shape(m), tf.cast(ignore_label, m.dtype)), masks
        )

    padded = examples.concatenate(examples.repeat().take(-size % replicas).map(ignored))
    share = padded.shard(count, index).batch(1)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    share = share.with_options(options)
    return strategy.distribute_datasets_from_function(lambda context: share)
