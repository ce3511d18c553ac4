"""Training: the papers' optimiser settings, tf.distribute and mixed precision, resumable runs.

    model = kerasseg.PSPNet(classes=21)
    kerasseg.training.compile_model(model, epochs=50, steps_per_epoch=1000)
    model.fit(train_ds, ...)      # one mask trains both of PSPNet's heads (kerasseg.models.SegmentationModel)

or the whole run, as ``kerasseg train`` does it: ``train("pspnet", "camvid", epochs=..., out_dir=...)``, one
named step per module: :mod:`~kerasseg.training.options` (the checked settings), :mod:`~kerasseg.training.strategy`
(``tf.distribute``, several workers), :mod:`~kerasseg.training.run_folder` (resume, extend, refuse, restart;
the files a kill leaves consistent), :mod:`~kerasseg.training.data`, :mod:`~kerasseg.training.model` (build,
warm start, compile) and :mod:`~kerasseg.training.fit` (callbacks, fit, last model, scores of the best).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras

from kerasseg.models.contract import AUX_LOSS_WEIGHT
from kerasseg.optimizers import OPTIMIZERS, make_optimizer, poly_learning_rate
from kerasseg.training.data import focus_labels, load_run_data
from kerasseg.training.fit import TrainResult, finish, fit, training_callbacks
from kerasseg.training.model import (
    build_model,
    check_crop_size,
    check_model_options,
    compile_model,
    init_weights,
    prepare_model,
)
from kerasseg.training.options import TrainOptions, run_state
from kerasseg.training.run_folder import (
    BestModelCheckpoint,
    DiskSpaceCheck,
    EpochBackup,
    StopOnNonFinite,
    TrainingDiverged,
    check_run,
    one_writer,
    restore_backup,
    save_model,
    start_run,
    trim_log,
)
from kerasseg.training.strategy import (
    STRATEGIES,
    get_strategy,
    in_multi_worker_mode,
    num_workers,
    worker_index,
)

__all__ = [
    "OPTIMIZERS", "STRATEGIES", "BestModelCheckpoint", "DiskSpaceCheck", "EpochBackup", "StopOnNonFinite",
    "TrainOptions", "TrainResult", "TrainingDiverged", "build_model", "check_crop_size", "check_model_options",
    "compile_model", "focus_labels", "get_strategy", "init_weights", "make_optimizer", "poly_learning_rate",
    "restore_backup", "save_model", "train", "training_callbacks", "trim_log",
]


@one_writer
def train(  # 70 lines: 34 arguments and their docstring; the body is the 12 lines of steps at the end
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
    order and the augmentation (set once, before the data), and ops run deterministically: the same call gives
    the same losses. Afterwards the dtype policy, op determinism and the Python and NumPy random states are as before.

    Writes ``run.json`` (the options), ``log.csv``, ``best.keras`` (best validation mIoU) with ``best.json``,
    ``last.keras``, ``tensorboard/`` and ``backup/`` (the last finished epoch with the optimizer state). Calling
    again with the same options resumes an interrupted run, or extends a finished one when ``epochs`` grew: the
    poly schedule is then recomputed over the new total, so the learning rate continues from the step reached
    as if the run had been planned that long. Other options are refused; ``restart=True`` moves the old run aside.
    """
    options = TrainOptions(**locals())  # every argument, checked before any expensive work
    start = time.time()
    strategy = get_strategy(options.strategy)  # first: a multi-worker strategy must precede every other TF op
    multi_worker = in_multi_worker_mode(strategy)
    done, replace = check_run(options, multi_worker)
    with run_state(options.seed):
        data = load_run_data(options, (worker_index(), num_workers()) if multi_worker else None)
        model = prepare_model(options, data.classes, data.steps, data.class_weights, strategy, resume_from=done)
        start_run(options, done, replace)  # only now: everything a restart needs was checked
        history = fit(model, options, data, strategy, initial_epoch=done)
        return finish(model, history, options, data, start)
