"""The settings of a run: ``train``'s arguments, checked before any expensive work (:class:`TrainOptions`), and
the global Keras/TensorFlow state a run needs, put back as it was afterwards (:func:`run_state`)."""

from __future__ import annotations

import contextlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from kerasseg import compat
from kerasseg.optimizers import OPTIMIZERS
from kerasseg.training.strategy import STRATEGIES

LOSSES = ("ce", "dice", "lovasz")


@dataclass(frozen=True)
class TrainOptions:  # 80 lines: one field per argument of train (34), then what is derived from them
    """``train``'s arguments (see :func:`kerasseg.training.train` for each), validated on creation; an error names
    the parameter. No defaults here: ``train``'s signature holds them."""

    model: str | keras.Model
    data: object
    val: object
    epochs: int
    batch_size: int
    input_size: tuple[int, int]
    out_dir: object
    data_dir: str | None
    num_classes: int | None
    class_names: Sequence[str] | None
    backbone: str | None
    weights: object
    model_options: dict | None
    optimizer: str
    learning_rate: float | None
    weight_decay: float | None
    loss: str
    class_weights: object
    class_weight_power: float
    scale_range: tuple[float, float]
    focus_classes: Sequence[int | str]
    focus_probability: float
    init_from: object
    aux_weight: float
    steps_per_epoch: int | None
    mixed_precision: bool
    strategy: str
    seed: int
    train_split: str
    restart: bool
    preflight: bool
    callbacks: Sequence[keras.callbacks.Callback]
    tensorboard: bool
    verbose: int

    def __post_init__(self):
        object.__setattr__(self, "input_size", tuple(self.input_size))
        object.__setattr__(self, "scale_range", tuple(self.scale_range))
        check_arguments(self)
        if isinstance(self.model, str):
            from kerasseg.training.model import check_model_options

            check_model_options(self.model, self.builder_options)
        if self.init_from is not None and not Path(self.init_from).is_file():
            raise FileNotFoundError(f"init_from {self.init_from} does not exist")

    @property
    def out(self) -> Path:
        return Path(self.out_dir)

    @property
    def from_spec(self) -> bool:
        """Whether ``data`` is a dataset spec (cropped, augmented, checked by kerasseg) rather than a dataset."""
        return isinstance(self.data, str)

    @property
    def builder_options(self) -> dict:
        """The builder's keyword arguments: ``model_options`` with ``backbone`` and ``weights`` when given."""
        options = dict(self.model_options or {})
        options.update({"backbone": self.backbone} if self.backbone else {})
        default = isinstance(self.weights, str) and self.weights == "default"
        return options if default else {**options, "weights": self.weights}

    def run_config(self) -> dict:
        """What a resumed run must share with the run it continues (``run.json``)."""
        focus = {"focus_classes": list(self.focus_classes), "focus_probability": self.focus_probability}
        return _jsonable(
            self.model, self.data, self.val, classes=self.num_classes, options=self.builder_options,
            optimizer=self.optimizer, learning_rate=self.learning_rate, weight_decay=self.weight_decay,
            loss=self.loss, class_weights=self.class_weights, class_weight_power=self.class_weight_power,
            scale_range=self.scale_range, aux_weight=self.aux_weight, steps_per_epoch=self.steps_per_epoch,
            batch_size=self.batch_size, input_size=self.input_size, mixed_precision=self.mixed_precision,
            seed=self.seed, **({} if self.train_split == "train" else {"train_split": self.train_split}),
            **(focus if self.focus_classes else {}),
        )


def _jsonable(model, data, val, **options) -> dict:
    """What a resumed run must share with the run it continues, as JSON values."""
    name = model if isinstance(model, str) else f"<model {model.name}>"
    config = {"model": name, "data": data if isinstance(data, str) else "<dataset>",
              "val": val if val is None or isinstance(val, (str, bool)) else "<dataset>", **options}
    return json.loads(json.dumps(config, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def check_arguments(options: TrainOptions) -> None:
    """Counts, rates and sizes in range, before any expensive work; the error names the parameter."""

    def fail(name, rule):
        raise ValueError(f"{name} must be {rule}, got {getattr(options, name)!r}")

    for name in ("epochs", "batch_size", "steps_per_epoch", "num_classes"):
        value = getattr(options, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            fail(name, "a whole number >= 1")
    if len(options.input_size) != 2 or min(int(s) for s in options.input_size) < 1:
        fail("input_size", "two sizes >= 1 (height width)")
    rate = options.learning_rate
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        fail("learning_rate", "a positive number")
    decay = options.weight_decay
    if decay is not None and not (math.isfinite(decay) and decay >= 0):
        fail("weight_decay", ">= 0")
    low, high = options.scale_range
    if not 0.1 <= low <= high <= 4:  # beyond, crops are all padding or images blow up memory (x1000: 360k pixels high)
        fail("scale_range", "LOW HIGH with 0.1 <= LOW <= HIGH <= 4")
    if not math.isfinite(options.class_weight_power):
        fail("class_weight_power", "a finite number")
    if options.aux_weight < 0:
        fail("aux_weight", ">= 0")
    if not isinstance(options.seed, int) or not 0 <= options.seed < 2**32:
        fail("seed", "a whole number in [0, 2**32)")
    for name, valid in (("optimizer", OPTIMIZERS), ("strategy", STRATEGIES), ("loss", LOSSES)):
        if getattr(options, name) not in valid:
            fail(name, f"one of {', '.join(valid)}")


@contextlib.contextmanager
def run_state(seed: int):
    """Seeds Python, NumPy and TensorFlow (the weights, the data order and the augmentation: tf.data's seeded ops
    depend on the global seed too) and runs TensorFlow ops deterministically inside the block; afterwards op
    determinism and the Python and NumPy random states are what they were. (TensorFlow's global seed has no
    public getter: it stays set.)"""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with compat.op_determinism():
            keras.utils.set_random_seed(seed)
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """The ``mixed_float16`` policy inside the block when ``mixed_precision``; afterwards the one before."""
    policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
