"""Training: the papers' optimiser settings, tf.distribute and mixed precision, resumable runs.

    model = kerasseg.PSPNet(classes=21)
    kerasseg.training.compile_model(model, epochs=50, steps_per_epoch=1000)
    model.fit(train_ds, ...)      # one mask trains both of PSPNet's heads (kerasseg.models.SegmentationModel)

or the whole run, as ``kerasseg train`` does it: ``train("pspnet", "camvid", epochs=..., out_dir=...)``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras

from kerasseg import compat, distribute
from kerasseg.data.datasets import input_folders
from kerasseg.data.info import IGNORE_LABEL
from kerasseg.evaluation import evaluate, output_classes
from kerasseg.files import check_outside
from kerasseg.losses import get_loss
from kerasseg.metrics import MeanIoU, SegmentationScores
from kerasseg.models.contract import AUX_LOSS_WEIGHT
from kerasseg.optimizers import OPTIMIZERS, make_optimizer, poly_learning_rate  # noqa: F401
from kerasseg.runs import (
    BestModelCheckpoint,
    DiskSpaceCheck,
    EpochBackup,
    StopOnNonFinite,
    check_run_dir,
    one_writer,
    restore_backup,
    run_config,
    save_model,
    start_run_dir,
    trim_log,
    write_text,
)

STRATEGIES = ("auto", "one", "mirrored", "tpu", "multiworker")


def compile_model(
    model: keras.Model,
    classes: int | None = None,
    *,
    optimizer: str | keras.optimizers.Optimizer = "sgd",
    learning_rate: float | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    momentum: float = 0.9,
    weight_decay: float | None = 1e-4,
    power: float = 0.9,
    aux_weight: float = AUX_LOSS_WEIGHT,
    class_weights: Sequence[float] | None = None,
    loss: str = "ce",
    ignore_label: int = IGNORE_LABEL,
    **compile_kwargs,
) -> keras.Model:
    """Compiles ``model`` with the papers' defaults and returns it.

    SGD, momentum 0.9, poly learning rate (power 0.9) over ``epochs * steps_per_epoch`` steps (constant when
    either is unknown), weight decay 1e-4 (see :func:`make_optimizer`), the segmentation loss ``loss``
    ("ce", optionally class-weighted, "dice" or "lovasz", all ignoring ``ignore_label``) and the dataset-wide
    :class:`kerasseg.metrics.MeanIoU` ("miou"). A model with an auxiliary head (a
    :class:`kerasseg.models.SegmentationModel`) trains it with the same loss, weighted ``aux_weight`` (0.4,
    PSPNet). Under a ``mixed_float16`` policy Keras wraps the optimizer in loss scaling itself.
    """
    from kerasseg.models.contract import SegmentationModel

    classes = classes or output_classes(model)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        decay_steps = epochs * steps_per_epoch if epochs and steps_per_epoch else None
        optimizer = make_optimizer(
            optimizer,
            learning_rate,
            decay_steps=decay_steps,
            momentum=momentum,
            weight_decay=weight_decay,
            power=power,
        )
    weights = None if class_weights is None else [float(w) for w in class_weights]
    if isinstance(model.output, dict) and not isinstance(model, SegmentationModel):
        raise ValueError(
            f"model {model.name!r} has the outputs {sorted(model.output)}: kerasseg trains a model with one logits "
            "output, or a kerasseg.models.SegmentationModel whose second output 'aux' is an auxiliary head"
        )
    if isinstance(model, SegmentationModel):
        compile_kwargs["aux_weight"] = aux_weight
    model.compile(
        optimizer=optimizer,
        loss=get_loss(loss, weights, ignore_label),
        metrics=[MeanIoU(classes, ignore_label)],
        **compile_kwargs,
    )
    return model


def _tpu_resolver():
    """A TPU cluster resolver when this machine has (or is configured for) a TPU, else None; no network."""
    import tensorflow as tf

    if tf.config.list_physical_devices("TPU"):
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    return None


def get_strategy(kind: str = "auto"):
    """A ``tf.distribute`` strategy: multi-worker when ``TF_CONFIG`` names several workers, TPU when present,
    Mirrored over several GPUs, else the default one.

    ``kind``: "auto" (that choice), "one" (``OneDeviceStrategy`` on the first GPU, else the CPU), "mirrored"
    (``MirroredStrategy`` over every GPU, the CPU when there is none), "tpu" (an error without a TPU) or
    "multiworker" (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, see :mod:`kerasseg.distribute`; it must be
    created before any other TensorFlow op). Build and compile the model inside ``strategy.scope()``; ``train``
    does it.
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise ValueError(f"Unknown strategy {kind!r}; valid strategies: {', '.join(STRATEGIES)}")
    if kind == "multiworker" or (kind == "auto" and distribute.num_workers() > 1):
        return distribute.multi_worker_strategy()
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


def training_callbacks(out_dir, monitor: str | None, *, resume: bool, tensorboard: bool = True) -> list:
    """CSV log, best-mIoU checkpoint (with validation), TensorBoard, and the resumable backup (last, so that a
    backup marks an epoch whose other outputs are written).

    In a multi-worker job only the chief logs; every worker saves (saving may run collective ops), the others
    into their temporary folder (:func:`kerasseg.distribute.worker_dir`).
    """
    out, chief = Path(out_dir), distribute.is_chief()
    mine = distribute.worker_dir(out)
    callbacks = [StopOnNonFinite(), DiskSpaceCheck(out)]  # first: nothing is written of a diverged epoch, or
    # of one the disk has no room for
    callbacks += [keras.callbacks.CSVLogger(str(out / "log.csv"), append=resume)] if chief else []
    if monitor:
        callbacks.append(BestModelCheckpoint(mine / "best.keras", monitor, resume=resume))
    if tensorboard and chief and importlib.util.find_spec("tensorboard") is None:
        print("TensorBoard is not installed (pip install tensorboard): no tensorboard/ logs for this run")
    elif tensorboard and chief:
        callbacks.append(keras.callbacks.TensorBoard(str(out / "tensorboard")))
    return callbacks + [EpochBackup(mine / "backup")]


@dataclass
class TrainResult:
    """What ``train`` produced: the trained model, history, validation scores of the best model, files."""

    model: keras.Model
    history: dict
    out_dir: Path
    wall_time: float
    scores: SegmentationScores | None = None
    best_epoch: int | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        lines = []
        if self.scores is not None:
            lines += [self.scores.summary(), ""]
            lines.append(f"best val mIoU {100 * self.scores.miou:.2f} at epoch {self.best_epoch}")
        minutes, seconds = divmod(self.wall_time, 60)
        lines.append(f"wall time {int(minutes)} min {seconds:.1f} s")
        lines += [f"{name:<10} {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def build_model(model: str | keras.Model, classes: int, **options) -> keras.Model:
    """A registered architecture by name, built for any input size, with its aux head when it has one;
    a ``keras.Model`` is returned as is. ``options`` are the builder's keyword arguments (backbone, weights,
    output_stride, ...); the builder's defaults hold for the others."""
    if isinstance(model, keras.Model):
        return model
    from kerasseg.models import get_model, model_info

    check_model_options(model, options)
    params = inspect.signature(model_info(model).builder).parameters
    if "aux" in params:
        options.setdefault("aux", True)
    try:
        return get_model(model, classes=classes, input_shape=(None, None, 3), **options)
    except TypeError as err:  # an option of the wrong type, e.g. depth="abc"
        raise ValueError(f"model {model!r} cannot be built with the options {options} (--option): {err}") from None


def check_model_options(model: str, options: dict) -> None:
    """An option that neither the builder nor its backbone takes is an error that lists the valid ones."""
    from kerasseg import backbones
    from kerasseg.models import model_info

    def named(function, exclude) -> set[str]:
        params = inspect.signature(function).parameters.values()
        return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - set(exclude)

    builder = model_info(model).builder
    valid = named(builder, ("classes", "input_shape"))
    params = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):  # the rest goes to the backbone's builder
        name = options.get("backbone", params["backbone"].default if "backbone" in params else None)
        family = getattr(backbones, name, None) if isinstance(name, str) else None
        valid |= named(family, ("inputs", "weights", "output_stride")) if callable(family) else set()
    for key in options:
        if key not in valid:
            what = "backbone" if key == "backbone" else f"option {key!r}"
            raise ValueError(f"model {model!r} has no {what} (--option); valid options: {', '.join(sorted(valid))}")


def check_crop_size(model: keras.Model, input_size) -> None:
    """Training crops of at least the model's input multiple (smaller ones are mostly padding)."""
    from kerasseg.evaluation.inference import input_multiple

    least = input_multiple(model)
    if min(int(s) for s in input_size) < least:
        raise ValueError(
            f"input_size (--input-size) {tuple(input_size)} is smaller than the model's input multiple {least}: "
            f"give at least {least} {least}"
        )


def init_weights(model: keras.Model, path) -> None:
    """Warm start: copies every weight of the saved model ``path`` (``.keras``) into ``model``, layer by name."""
    from kerasseg.evaluation import load_model

    source = load_model(path, compile=False)
    layers = {layer.name: layer for layer in source.layers if layer.weights}
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in layers:
            raise ValueError(f"init_from {path}: the saved model has no layer {layer.name!r}")
        values = layers[layer.name].get_weights()
        expected = [tuple(w.shape) for w in layer.weights]
        if expected != [v.shape for v in values]:
            raise ValueError(
                f"init_from {path}: layer {layer.name!r} expects {expected}, the file gives {[v.shape for v in values]}"
            )
        layer.set_weights(values)


def _load_data(
    data, val, data_dir, batch_size: int, input_size, seed: int, scale_range, classes, worker=None, split="train",
    focus=((), 0.5),
):
    """(train, validation, DatasetInfo or None): batched datasets from a spec, or the datasets given.

    ``worker=(index, count)``: the training data is this worker's share of each global batch."""
    if not isinstance(data, str):
        if isinstance(val, str):
            raise ValueError(
                f"val must be a dataset or None when data is a dataset, not the split name {val!r}"
            )
        return data, val or None, None
    from kerasseg.data import load_dataset, make_eval_pipeline, make_train_pipeline

    raw, info = load_dataset(data, split, data_dir, classes=classes)
    if classes and classes != info.num_classes:
        raise ValueError(f"{data} has {info.num_classes} classes; classes (--classes) {classes} disagrees")
    train_ds = make_train_pipeline(
        raw, batch_size, crop_size=tuple(input_size), seed=seed, scale_range=scale_range, worker=worker,
        focus_classes=focus_labels(focus[0], info.class_names), focus_probability=focus[1],
    )
    if val is None or isinstance(val, str):
        val = make_eval_pipeline(load_dataset(data, val or "val", data_dir, classes=info.num_classes)[0], batch_size=1)
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


def _epoch_steps(dataset, steps_per_epoch: int | None, batch_size: int) -> int:
    import tensorflow as tf

    count = int(dataset.cardinality())
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(dataset.reduce(0, lambda n, *_: n + 1))
    if count == 0:
        raise ValueError(f"the training data has no full batch: fewer examples than --batch-size {batch_size}")
    if steps_per_epoch:
        return int(steps_per_epoch)
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the training dataset repeats forever: give steps_per_epoch")
    return count


def check_arguments(**values) -> None:
    """Counts, rates and sizes in range, before any expensive work; the error names the flag."""
    import math

    def fail(name, rule):
        flag = {"learning_rate": "--lr", "num_classes": "--classes"}.get(name, "--" + name.replace("_", "-"))
        raise ValueError(f"{name} ({flag}) must be {rule}, got {values[name]!r}")

    for name in ("epochs", "batch_size", "steps_per_epoch", "num_classes"):
        value = values[name]
        if value is not None and (not isinstance(value, int) or value < 1):
            fail(name, "a whole number >= 1")
    size = values["input_size"]
    if len(size) != 2 or min(int(s) for s in size) < 1:
        fail("input_size", "two sizes >= 1 (height width)")
    rate = values["learning_rate"]
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        fail("learning_rate", "a positive number")
    decay = values["weight_decay"]
    if decay is not None and not (math.isfinite(decay) and decay >= 0):
        fail("weight_decay", ">= 0")
    low, high = values["scale_range"]
    if not 0.1 <= low <= high <= 4:  # beyond, crops are all padding or images blow up memory (x1000: 360k pixels high)
        fail("scale_range", "LOW HIGH with 0.1 <= LOW <= HIGH <= 4")
    if not math.isfinite(values["class_weight_power"]):
        fail("class_weight_power", "a finite number")
    if values["aux_weight"] < 0:
        fail("aux_weight", ">= 0")
    if not isinstance(values["seed"], int) or not 0 <= values["seed"] < 2**32:
        fail("seed", "a whole number in [0, 2**32)")
    for name, valid in (("optimizer", OPTIMIZERS), ("strategy", STRATEGIES), ("loss", ("ce", "dice", "lovasz"))):
        if values[name] not in valid:
            fail(name, f"one of {', '.join(valid)}")


@one_writer
def train(
    model: str | keras.Model,
    data,
    val=None,
    *,
    epochs: int = 30,
    batch_size: int = 8,
    input_size: tuple[int, int] = (512, 512),
    out_dir="kerasseg-run",
    data_dir: str | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    backbone: str | None = None,
    weights="default",
    model_options: dict | None = None,
    optimizer: str = "sgd",
    learning_rate: float | None = None,
    weight_decay: float | None = 1e-4,
    loss: str = "ce",
    class_weights="dataset",
    class_weight_power: float = 1.0,
    scale_range: tuple[float, float] = (0.5, 2.0),
    focus_classes: Sequence[int | str] = (),
    focus_probability: float = 0.5,
    init_from=None,
    aux_weight: float = AUX_LOSS_WEIGHT,
    steps_per_epoch: int | None = None,
    mixed_precision: bool = False,
    strategy: str = "auto",
    seed: int = 0,
    train_split: str = "train",
    restart: bool = False,
    preflight: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    tensorboard: bool = True,
    verbose: int = 1,
) -> TrainResult:
    """Trains ``model`` (a registered name or a ``keras.Model``) and writes a resumable run to ``out_dir``.

    ``data``: a dataset spec ("camvid", "folder:IMAGES:MASKS", ...; ``val`` is then a split name, default
    "val", or ``False`` for none; ``train_split`` the training split, "train" unless e.g. "train+val" for a final
    model whose epochs were chosen on val) or a batched ``tf.data.Dataset`` of ``(images, masks)`` (``val`` a dataset or
    None). Spec data is cropped to ``input_size`` and augmented by ``kerasseg.data.make_train_pipeline``.
    ``num_classes``: the class count (built-in datasets declare theirs; folder masks must be unambiguous without
    it). ``preflight`` checks every file of the spec's splits before the first step (``kerasseg check-data``).
    ``class_weights="dataset"`` takes the dataset's own (CamVid: median frequency balancing) for ``loss="ce"``.
    ``focus_classes`` (labels or names) and ``focus_probability``: class-aware crops
    (:func:`kerasseg.data.pipelines.build_augmentation`).
    ``mixed_precision`` builds the model under the ``mixed_float16`` policy (so a model given as an object must
    already be built under it). ``strategy``: see :func:`get_strategy`. ``seed`` seeds the weights, the data
    order and the augmentation, and ops run deterministically: the same call gives the same losses.

    Writes ``run.json`` (the options), ``log.csv``, ``best.keras`` (best validation mIoU) with ``best.json``,
    ``last.keras``, ``tensorboard/`` and ``backup/`` (the last finished epoch with the optimizer state). Calling
    again with the same options resumes an interrupted run, or extends a finished one when ``epochs`` grew: the
    poly schedule is then recomputed over the new total, so the learning rate continues from the step reached
    as if the run had been planned that long. Other options are refused; ``restart=True`` moves the old run aside.
    """
    start = time.time()
    check_arguments(
        epochs=epochs, batch_size=batch_size, input_size=tuple(input_size), learning_rate=learning_rate,
        weight_decay=weight_decay, steps_per_epoch=steps_per_epoch, scale_range=tuple(scale_range),
        num_classes=num_classes, class_weight_power=class_weight_power, aux_weight=aux_weight,
        optimizer=optimizer, strategy=strategy, loss=loss, seed=seed,
    )
    options = dict(model_options or {})
    options.update({"backbone": backbone} if backbone else {})
    options.update({} if isinstance(weights, str) and weights == "default" else {"weights": weights})
    if isinstance(model, str):
        check_model_options(model, options)
    if init_from is not None and not Path(init_from).is_file():
        raise FileNotFoundError(f"init_from (--init-from) {init_from} does not exist")
    config = run_config(
        model, data, val, classes=num_classes, options=options, optimizer=optimizer, learning_rate=learning_rate,
        weight_decay=weight_decay, loss=loss, class_weights=class_weights, class_weight_power=class_weight_power,
        scale_range=scale_range, aux_weight=aux_weight, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
        input_size=input_size, mixed_precision=mixed_precision, seed=seed,
        **({} if train_split == "train" else {"train_split": train_split}),
        **({"focus_classes": list(focus_classes), "focus_probability": focus_probability} if focus_classes else {}),
    )
    out = Path(out_dir)
    strategy = get_strategy(strategy)  # first: a multi-worker strategy must precede every other TF op
    multi_worker = distribute.in_multi_worker_mode(strategy)
    if multi_worker and restart:
        raise ValueError("restart (--restart) with several workers: move the run folder aside before starting them")
    worker = (distribute.worker_index(), distribute.num_workers()) if multi_worker else None
    chief = distribute.is_chief()
    done, replace = check_run_dir(out, config, epochs, restart)
    check_outside(out, "out_dir (--out)", input_folders(data, data_dir))

    keras.utils.set_random_seed(seed)  # tf.data's seeded ops depend on the global seed too
    train_ds, val_ds, info = _load_data(
        data, val, data_dir, batch_size, input_size, seed, scale_range, num_classes, worker, train_split,
        (tuple(focus_classes), focus_probability),
    )
    if preflight and isinstance(data, str):
        from kerasseg.data import preflight as check_files

        splits = [train_split] + ([val or "val"] if val is None or isinstance(val, str) else [])
        check_files(data, splits, data_dir, classes=info.num_classes)
    given_classes = output_classes(model) if isinstance(model, keras.Model) else None
    classes = num_classes or (info.num_classes if info else None) or given_classes
    if not classes:
        raise ValueError("num_classes is required when training a model by name on a tf.data.Dataset")
    names = class_names or (info.class_names if info else None)
    if isinstance(class_weights, str) and class_weights == "dataset":
        class_weights = info.class_weights if info is not None and loss == "ce" else None
    if class_weights is not None and class_weight_power != 1.0:
        class_weights = [float(w) ** class_weight_power for w in class_weights]
    steps = _epoch_steps(train_ds, steps_per_epoch, batch_size)
    if steps_per_epoch:
        train_ds = train_ds.repeat()

    keras.utils.set_random_seed(seed)  # again: the weights of a model built here start from the seed too
    with compat.op_determinism():
        policy = keras.config.dtype_policy()
        if mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            with strategy.scope():
                model = build_model(model, classes, **options)
                if isinstance(data, str):
                    check_crop_size(model, input_size)
                if init_from is not None and not done:
                    init_weights(model, init_from)
                if mixed_precision and model.compute_dtype != "float16":
                    raise ValueError(
                        "mixed_precision: the model was built in float32; build it after "
                        "keras.config.set_dtype_policy('mixed_float16') or pass its registered name"
                    )
                compile_model(
                    model,
                    classes,
                    optimizer=optimizer,
                    learning_rate=learning_rate,
                    epochs=epochs,
                    steps_per_epoch=steps,
                    weight_decay=weight_decay,
                    aux_weight=aux_weight,
                    class_weights=class_weights,
                    loss=loss,
                )
                if done:  # every worker resumes from the chief's backup, so that all start from one state
                    restore_backup(model, out / "backup")
        finally:
            keras.config.set_dtype_policy(policy)

        fit_train, fit_val = train_ds, val_ds
        start_run_dir(out, replace, verbose)  # only now: everything a restart needs was checked
        resume = done > 0 or (out / "log.csv").exists()
        if chief:
            trim_log(out / "log.csv", done)
        cbs = training_callbacks(
            out, "val_miou" if val_ds is not None else None, resume=resume, tensorboard=tensorboard
        )
        if chief and not (out / "run.json").exists():
            write_text(out / "run.json", json.dumps({"config": config, "epochs": epochs}, indent=1))
        if done and verbose:
            print(f"resuming {out} at epoch {done + 1} of {epochs} (from {out / 'backup'})")
        if multi_worker:
            fit_train = distribute.distribute_dataset(strategy, fit_train, per_worker=isinstance(data, str))
            fit_val = None if fit_val is None else distribute.distribute_eval(strategy, fit_val)
        from kerasseg.data.folders import file_errors

        with file_errors():
            history = model.fit(
                fit_train,
                validation_data=fit_val,
                epochs=epochs,
                initial_epoch=done,
                steps_per_epoch=steps_per_epoch,
                callbacks=[*cbs[:-1], *callbacks, cbs[-1]],
                verbose=verbose,
                shuffle=False,  # the pipeline shuffles; Keras' default True only warns for tf.data
            )
        files = {"last": save_model(model, distribute.worker_dir(out) / "last.keras"), "log": out / "log.csv"}
        if not chief:  # TF guide: every worker saves, only the chief's files are kept
            distribute.remove_worker_dir(out)
            return TrainResult(model, history.history, out, time.time() - start)
        write_text(out / "run.json", json.dumps({"config": config, "epochs": epochs}, indent=1))
        result = TrainResult(model, history.history, out, 0.0, files=files)
        best = out / "best.keras"
        if val_ds is not None and best.exists():
            files["best"] = best
            result.best_epoch = json.loads(best.with_suffix(".json").read_text())["epoch"]
            with file_errors():
                result.scores = evaluate(
                    keras.models.load_model(best, compile=False), val_ds, classes, class_names=names
                )
            write_text(out / "best_scores.json", json.dumps(result.scores.to_dict(), indent=1))
            files["scores"] = out / "best_scores.json"
        if (out / "tensorboard").is_dir():
            files["tensorboard"] = out / "tensorboard"
        result.wall_time = time.time() - start
        if verbose:
            print(result.summary())
        return result

