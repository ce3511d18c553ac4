"""The fit of a run: the callbacks that write the run folder, ``model.fit`` (resumed at the epoch reached), the
last model, and the scores of the best model re-evaluated on the validation data."""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras

from kerasseg.evaluation import evaluate
from kerasseg.metrics import SegmentationScores
from kerasseg.training.data import RunData
from kerasseg.training.options import TrainOptions
from kerasseg.training.run_folder import (
    BestModelCheckpoint,
    DiskSpaceCheck,
    EpochBackup,
    StopOnNonFinite,
    save_model,
    write_run_record,
    write_text,
)
from kerasseg.training.strategy import (
    distribute_dataset,
    distribute_eval,
    in_multi_worker_mode,
    is_chief,
    remove_worker_dir,
    worker_dir,
)


def training_callbacks(out_dir, monitor: str | None, *, resume: bool, tensorboard: bool = True) -> list:
    """CSV log, best-mIoU checkpoint (with validation), TensorBoard, and the resumable backup (last, so that a
    backup marks an epoch whose other outputs are written).

    In a multi-worker job only the chief logs; every worker saves (saving may run collective ops), the others
    into their temporary folder (:func:`kerasseg.training.strategy.worker_dir`).
    """
    out, chief = Path(out_dir), is_chief()
    mine = worker_dir(out)
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


def fit(model: keras.Model, options: TrainOptions, data: RunData, strategy, initial_epoch: int) -> dict:
    """``model.fit`` over the run's epochs from ``initial_epoch``, with the run folder's callbacks around the user's
    (the backup last: it marks an epoch whose other outputs are written); returns the history."""
    from kerasseg.data.folders import file_errors

    out = options.out
    resume = initial_epoch > 0 or (out / "log.csv").exists()
    ours = training_callbacks(
        out, "val_miou" if data.val is not None else None, resume=resume, tensorboard=options.tensorboard
    )
    fit_train, fit_val = data.train, data.val
    if in_multi_worker_mode(strategy):
        fit_train = distribute_dataset(strategy, fit_train, per_worker=options.from_spec)
        fit_val = None if fit_val is None else distribute_eval(strategy, fit_val)
    with file_errors():
        history = model.fit(
            fit_train,
            validation_data=fit_val,
            epochs=options.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=options.steps_per_epoch,
            callbacks=[*ours[:-1], *options.callbacks, ours[-1]],
            verbose=options.verbose,
            shuffle=False,  # the pipeline shuffles; Keras' default True warns for tf.data given a plain keras.Model
        )
    return history.history


def finish(model: keras.Model, history: dict, options: TrainOptions, data: RunData, start: float) -> TrainResult:
    """Saves ``last.keras`` and, on the chief, ``run.json`` and the best model's scores, re-evaluated on the
    validation data (``best_scores.json``); a non-chief worker removes its temporary folder."""
    out = options.out
    files = {"last": save_model(model, worker_dir(out) / "last.keras"), "log": out / "log.csv"}
    if not is_chief():  # TF guide: every worker saves, only the chief's files are kept
        remove_worker_dir(out)
        return TrainResult(model, history, out, time.time() - start)
    write_run_record(options)
    result = TrainResult(model, history, out, 0.0, files=files)
    best = out / "best.keras"
    if data.val is not None and best.exists():
        from kerasseg.data.folders import file_errors

        files["best"] = best
        result.best_epoch = json.loads(best.with_suffix(".json").read_text())["epoch"]
        with file_errors():
            best_model = keras.models.load_model(best, compile=False)
            result.scores = evaluate(best_model, data.val, data.classes, class_names=data.names)
        write_text(out / "best_scores.json", json.dumps(result.scores.to_dict(), indent=1))
        files["scores"] = out / "best_scores.json"
    if (out / "tensorboard").is_dir():
        files["tensorboard"] = out / "tensorboard"
    result.wall_time = time.time() - start
    if options.verbose:
        print(result.summary())
    return result

