"""Two fixes that let Keras 3's ``model.fit`` run under a multi-worker ``MultiWorkerMirroredStrategy``.

Keras 3 (checked on 3.15.1 with TensorFlow 2.21) fails in ``fit`` as soon as the strategy spans two workers
(keras-team/keras#20585, tensorflow/tensorflow#72388):

1. ``TensorFlowTrainer._maybe_symbolic_build`` reduces a whole ``(x, y)`` batch with ``strategy.reduce``, which
   the collective cross-device ops reject ("Attempt to convert a value (PerReplica ...) to a Tensor"); it also
   pulls a batch from a throw-away iterator, which would advance the seeded shuffle by one epoch. The fix builds
   the metrics and losses from the dataset's element spec instead: no data read, no collective op.
2. ``reduce_per_replica(..., "auto")`` reduces every step's logs with ``strategy.reduce("MEAN", v, axis=0)``,
   which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"). The fix averages
   scalars over the replicas (``axis=None``). Epoch logs do not depend on it: Keras recomputes them from the
   metrics' ``SyncOnRead`` variables, summed over all workers.

Both replacements defer to Keras' own code unless the strategy is multi-worker; :func:`apply` is called by
``kerasseg.distribute.multi_worker_strategy``, i.e. only in a process that trains on several workers.
"""

from __future__ import annotations

_APPLIED = False


def _local_spec(spec):
    """The per-replica ``TensorSpec`` of a distributed dataset's element spec (one replica per worker here)."""
    value_specs = getattr(spec, "_value_specs", None)
    return value_specs[0] if value_specs else spec


def apply() -> None:
    """Installs the two fixes (once per process)."""
    global _APPLIED
    if _APPLIED:
        return
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
    _APPLIED = True
