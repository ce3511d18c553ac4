"""The model of a run: built by name (or given), warm-started, compiled with the papers' settings.

    model = kerasseg.PSPNet(classes=21)
    kerasseg.training.compile_model(model, epochs=50, steps_per_epoch=1000)
    model.fit(train_ds, ...)      # one mask trains both of PSPNet's heads (kerasseg.models.SegmentationModel)
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import keras

from kerasseg.data.info import IGNORE_LABEL
from kerasseg.evaluation import output_classes
from kerasseg.losses import get_loss
from kerasseg.metrics import MeanIoU
from kerasseg.models.contract import AUX_LOSS_WEIGHT, SegmentationModel
from kerasseg.optimizers import make_optimizer
from kerasseg.training.options import TrainOptions, dtype_policy
from kerasseg.training.run_folder import restore_backup


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
        raise ValueError(f"model {model!r} cannot be built with the options {options} (model_options): {err}") from None


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
            raise ValueError(f"model {model!r} has no {what} (model_options); valid options: {', '.join(sorted(valid))}")


def check_crop_size(model: keras.Model, input_size) -> None:
    """Training crops of at least the model's input multiple (smaller ones are mostly padding)."""
    from kerasseg.evaluation.inference import input_multiple

    least = input_multiple(model)
    if min(int(s) for s in input_size) < least:
        raise ValueError(
            f"input_size {tuple(input_size)} is smaller than the model's input multiple {least}: "
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



def prepare_model(options: TrainOptions, classes: int, steps: int, class_weights, strategy, resume_from: int):
    """The run's model, inside ``strategy.scope()``: built (under ``mixed_float16`` for ``mixed_precision``; the
    global policy is put back after), warm-started from ``init_from`` on a new run, compiled, and on a resumed one
    (``resume_from`` finished epochs) loaded from the run's backup: every worker resumes from the chief's backup,
    so that all start from one state."""
    with dtype_policy(options.mixed_precision), strategy.scope():
        model = build_model(options.model, classes, **options.builder_options)
        if options.from_spec:
            check_crop_size(model, options.input_size)
        if options.init_from is not None and not resume_from:
            init_weights(model, options.init_from)
        if options.mixed_precision and model.compute_dtype != "float16":
            raise ValueError(
                "mixed_precision: the model was built in float32; build it after "
                "keras.config.set_dtype_policy('mixed_float16') or pass its registered name"
            )
        compile_model(
            model, classes, optimizer=options.optimizer, learning_rate=options.learning_rate, epochs=options.epochs,
            steps_per_epoch=steps, weight_decay=options.weight_decay, aux_weight=options.aux_weight,
            class_weights=class_weights, loss=options.loss,
        )
        if resume_from:
            restore_backup(model, options.out / "backup")
    return model
