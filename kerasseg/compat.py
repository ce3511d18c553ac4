"""Every use of Keras' and TensorFlow's private code, in one place, each checked against the releases it was
written for: outside them it fails with :class:`UnsupportedVersionError`, which names the release and the way out,
instead of misbehaving. The rest of kerasseg uses public APIs only.

- :func:`fix_multi_worker_fit`: two patches of ``keras.src.backend.tensorflow.trainer`` without which Keras 3's
  ``model.fit`` fails under a multi-worker ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585,
  tensorflow/tensorflow#72388);
- :func:`frozen_graph`: ``convert_variables_to_constants_v2`` (``tensorflow.python``), one frozen trace shared by
  every TFLite mode and the ONNX export;
- :func:`op_determinism`: TensorFlow's op determinism switched on for a block and put back as it was after
  (TensorFlow has a public switch to turn it on, none to read it or turn it off).
"""

from __future__ import annotations

import contextlib
from importlib import metadata

# The releases (major.minor, both ends included) whose private code below was read and run: the bounds of
# setup.py's range, where the private code is the same.
KERAS_RELEASES = ((3, 15), (3, 15))
TENSORFLOW_RELEASES = ((2, 20), (2, 21))


class UnsupportedVersionError(RuntimeError):
    """A Keras or TensorFlow release whose private code kerasseg has not been checked against."""


def _release(package: str) -> tuple[int, int]:
    major, minor = metadata.version(package).split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def require(package: str, releases, feature: str) -> None:
    """Raises :class:`UnsupportedVersionError` unless ``package``'s installed release is within ``releases``."""
    low, high = releases
    if not low <= _release(package) <= high:
        span = f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
        raise UnsupportedVersionError(
            f"{feature} relies on private code of {package} checked for releases {span}; this is {package} "
            f"{metadata.version(package)}. Install a release in that range (pip install '{package}>={low[0]}.{low[1]},"
            f"<{high[0]}.{high[1] + 1}') or see kerasseg/compat.py"
        )


def _tensorflow_package() -> str:
    for name in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            metadata.version(name)
            return name
    return "tensorflow"


def _local_spec(spec):
    """The per-replica ``TensorSpec`` of a distributed dataset's element spec (one replica per worker here)."""
    value_specs = getattr(spec, "_value_specs", None)
    return value_specs[0] if value_specs else spec


_MULTI_WORKER_FIXED = False


def fix_multi_worker_fit() -> None:
    """Lets ``model.fit`` run under a multi-worker strategy (once per process; no effect on other strategies).

    1. ``TensorFlowTrainer._maybe_symbolic_build`` reduces a whole ``(x, y)`` batch with ``strategy.reduce``,
       which the collective cross-device ops reject ("Attempt to convert a value (PerReplica ...) to a Tensor");
       it also pulls a batch from a throw-away iterator, which would advance the seeded shuffle by one epoch. The
       replacement builds the metrics and losses from the dataset's element spec: no data read, no collective op.
    2. ``reduce_per_replica(..., "auto")`` reduces every step's logs with ``strategy.reduce("MEAN", v, axis=0)``,
       which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"). The replacement
       averages scalars over the replicas (``axis=None``). Epoch logs do not depend on it: Keras recomputes them
       from the metrics' ``SyncOnRead`` variables, summed over all workers.

    Both defer to Keras' own code unless the strategy is multi-worker.
    """
    global _MULTI_WORKER_FIXED
    if _MULTI_WORKER_FIXED:
        return
    require("keras", KERAS_RELEASES, "multi-worker training")
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    multi_worker = tf_trainer._collective_all_reduce_multi_worker
    keras_reduce = tf_trainer.reduce_per_replica
    keras_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return keras_reduce(values, strategy, reduction)

        def mean(value):
            if not isinstance(value, tf.distribute.DistributedValues):
                return value
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tree.map_structure(mean, values)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not multi_worker(strategy) or iterator is None:
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        spec = iterator.data_adapter.get_tf_dataset().element_spec
        spec = tf.nest.map_structure(_local_spec, spec, expand_composites=False)
        with strategy.scope():
            self._symbolic_build(data_batch=spec)

    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _MULTI_WORKER_FIXED = True


def frozen_graph(concrete_function):
    """``concrete_function`` with its variables folded into constants (the converters' input)."""
    require(_tensorflow_package(), TENSORFLOW_RELEASES, "export")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(concrete_function)


@contextlib.contextmanager
def op_determinism():
    """TensorFlow ops (tf.data included) run deterministically inside the block; afterwards the setting is what
    it was before."""
    require(_tensorflow_package(), TENSORFLOW_RELEASES, "seeded training")
    import tensorflow as tf
    from tensorflow.python.framework import config

    if config.is_op_determinism_enabled():
        yield
        return
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        config.disable_op_determinism()
