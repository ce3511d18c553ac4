"""The data of a run: the batched training and validation datasets (from a spec, checked file by file before the
first step, or as given), the class count and names, the class weights and the steps of an epoch."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from kerasseg.evaluation import output_classes
from kerasseg.training.options import TrainOptions


@dataclass
class RunData:
    """What ``train`` fits on: ``train`` and ``val`` (None: no validation) as ``model.fit`` takes them,
    ``classes``, their ``names`` (or None), the loss' ``class_weights`` (or None) and ``steps`` per epoch."""

    train: object
    val: object
    classes: int
    names: list | None
    class_weights: list | None
    steps: int


def load_run_data(options: TrainOptions, worker=None) -> RunData:
    """The run's data. ``worker=(index, count)``: the training data is this worker's share of each global batch."""
    train_ds, val_ds, info = load_data(options, worker)
    if options.preflight and options.from_spec:
        from kerasseg.data import preflight

        splits = [options.train_split] + ([options.val or "val"] if _val_split(options.val) else [])
        preflight(options.data, splits, options.data_dir, classes=info.num_classes)
    given = output_classes(options.model) if isinstance(options.model, keras.Model) else None
    classes = options.num_classes or (info.num_classes if info else None) or given
    if not classes:
        raise ValueError("num_classes is required when training a model by name on a tf.data.Dataset")
    steps = epoch_steps(train_ds, options.steps_per_epoch, options.batch_size)
    if options.steps_per_epoch:
        train_ds = train_ds.repeat()
    return RunData(
        train_ds, val_ds, classes, options.class_names or (info.class_names if info else None),
        class_weights(options, info), steps,
    )


def _val_split(val) -> bool:
    """Whether ``val`` names a split of the spec (None: "val"; False: no validation)."""
    return val is None or isinstance(val, str)


def load_data(options: TrainOptions, worker=None):
    """(train, validation, DatasetInfo or None): batched datasets from a spec, or the datasets given."""
    data, val = options.data, options.val
    if not isinstance(data, str):
        if isinstance(val, str):
            raise ValueError(
                f"val must be a dataset or None when data is a dataset, not the split name {val!r}"
            )
        return data, val or None, None
    from kerasseg.data import load_dataset, make_eval_pipeline, make_train_pipeline

    raw, info = load_dataset(data, options.train_split, options.data_dir, classes=options.num_classes)
    if options.num_classes and options.num_classes != info.num_classes:
        raise ValueError(
            f"{data} has {info.num_classes} classes; num_classes {options.num_classes} disagrees"
        )
    train_ds = make_train_pipeline(
        raw, options.batch_size, crop_size=options.input_size, seed=options.seed, scale_range=options.scale_range,
        worker=worker, focus_classes=focus_labels(options.focus_classes, info.class_names),
        focus_probability=options.focus_probability,
    )
    if _val_split(val):
        split = load_dataset(data, val or "val", options.data_dir, classes=info.num_classes)[0]
        val = make_eval_pipeline(split, batch_size=1)
    return train_ds, val or None, info


def focus_labels(classes, class_names) -> tuple[int, ...]:
    """Class-aware crop classes given by label or by name (``class_names``), as labels."""
    labels = []
    for value in classes:
        if isinstance(value, str) and not value.isdigit():
            if value not in class_names:
                raise ValueError(f"focus_classes: no class named {value!r}; the classes are {', '.join(class_names)}")
            value = class_names.index(value)
        labels.append(int(value))
    return tuple(labels)


def class_weights(options: TrainOptions, info) -> list | None:
    """The loss' class weights: given, or the dataset's own for ``loss="ce"`` (``"dataset"``; CamVid: median
    frequency balancing), raised to ``class_weight_power``."""
    weights = options.class_weights
    if isinstance(weights, str) and weights == "dataset":
        weights = info.class_weights if info is not None and options.loss == "ce" else None
    if weights is not None and options.class_weight_power != 1.0:
        weights = [float(w) ** options.class_weight_power for w in weights]
    return weights


def epoch_steps(dataset, steps_per_epoch: int | None, batch_size: int) -> int:
    """Steps of an epoch: ``steps_per_epoch`` when given, else the batches of ``dataset`` (counted when unknown)."""
    import tensorflow as tf

    count = int(dataset.cardinality())
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(dataset.reduce(0, lambda n, *_: n + 1))
    if count == 0:
        raise ValueError(f"the training data has no full batch: fewer examples than batch_size {batch_size}")
    if steps_per_epoch:
        return int(steps_per_epoch)
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the training dataset repeats forever: give steps_per_epoch")
    return count
