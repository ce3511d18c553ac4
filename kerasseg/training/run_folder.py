"""A run folder: files written so that a kill at any instant leaves a consistent state, and the rules for
rerunning into it (resume, extend, refuse, or ``restart`` to move it aside).

``run.json`` (the options), ``log.csv``, ``best.keras`` + ``best.json``, ``last.keras``, ``backup/`` (the last
finished epoch: weights with the optimizer state, and ``training_metadata.json`` naming them).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import numbers
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from kerasseg.files import ensure_space, replacing, settle_record, sha256, write_atomic
from kerasseg.locks import OutputLock
from kerasseg.training.strategy import is_chief

if TYPE_CHECKING:
    from kerasseg.training.options import TrainOptions


def write_text(path: Path, text: str) -> None:
    write_atomic(text.encode("utf-8"), str(path))


def save_model(model: keras.Model, path) -> Path:
    """``model.save`` under a temporary ``.keras`` name, then an atomic rename onto ``path``."""
    path = Path(path)
    ensure_space(path.parent, saved_size(model))
    with replacing(path) as tmp:
        model.save(tmp)
    return path


def saved_size(model: keras.Model) -> int:
    """A generous estimate of the bytes of ``model.save`` or of a weights backup: the variables (the optimizer's
    too) plus what h5py adds per variable (measured: about 2.3 KiB)."""
    variables = list(model.variables) + list(getattr(model.optimizer, "variables", None) or [])
    data = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)
    return data + 4096 * len(variables) + 32768


class DiskSpaceCheck(keras.callbacks.Callback):
    """At the end of each epoch, before anything of it is written: room in ``folder`` for a best model and a
    backup (:func:`saved_size` each), else a clean ``ENOSPC`` naming the folder, and the epoch is redone on the
    next run. (h5py meets a full disk with warnings or a crash, leaving torn files.)"""

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)

    def on_epoch_end(self, epoch, logs=None):
        try:
            ensure_space(self.folder, 2 * saved_size(self.model))
        except OSError:
            end_progress_line(self)
            raise


def end_progress_line(callback: keras.callbacks.Callback) -> None:
    """Ends the line of Keras' progress bar, so that an error stopping training gets a line of its own."""
    if callback.params.get("verbose"):
        print(flush=True)


def finite_logs(logs) -> bool:
    """Whether every loss and metric Keras reports is a finite number (a diverged run reports NaN or inf)."""
    return all(math.isfinite(float(v)) for v in (logs or {}).values() if isinstance(v, numbers.Real))


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model (``.keras``) whenever the validation mIoU improves, with its record in ``<path>.json``.

    The pair is replaced together: the model and its record (which holds the model's SHA-256) are written under
    temporary names, then the model is renamed, then the record. A kill between the two renames leaves the new
    model beside its pending record, which ``settle_record`` (at the start of training) renames into place; a pending record
    whose model never arrived is dropped. With ``resume`` the record is read back, so a resumed run keeps the best
    model of the killed one.
    """

    def __init__(self, path, monitor: str = "val_miou", resume: bool = False):
        super().__init__()
        self.path, self.monitor, self.resume = Path(path), monitor, resume
        self.record_path = self.path.with_suffix(".json")
        self.pending_path = self.record_path.with_name(f".{self.record_path.name}.pending")
        self.best: dict | None = None

    def on_train_begin(self, logs=None):
        settle_record(self.pending_path, self.record_path, self.path)
        if self.resume and self.record_path.exists() and self.path.exists():
            self.best = json.loads(self.record_path.read_text())

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or (self.best is not None and value <= self.best[self.monitor]):
            return
        if not finite_logs(logs):  # a diverged model's argmax can still score: never call it the best
            return
        try:
            with replacing(self.path) as tmp:
                self.model.save(tmp)
                best = {"epoch": epoch + 1, self.monitor: float(value), "sha256": sha256(tmp)}
                write_text(self.pending_path, json.dumps(best))
            os.replace(self.pending_path, self.record_path)
        except BaseException:  # a full disk, Ctrl-C: leave the old pair or the new one, no pending record
            settle_record(self.pending_path, self.record_path, self.path)
            raise
        self.best = best


class TrainingDiverged(ValueError):
    """The loss (or a metric) became NaN or infinite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training with :class:`TrainingDiverged` at the first step whose loss is NaN or infinite, naming the
    epoch, the step and what to try; placed first, so that no later callback logs, checkpoints or backs up the
    diverged epoch (``best.keras`` and ``backup/`` keep the last finite one)."""

    def on_train_batch_end(self, batch, logs=None):
        if not finite_logs(logs):
            self._stop(f"step {batch + 1}", logs)

    def on_epoch_end(self, epoch, logs=None):
        if not finite_logs(logs):
            self._stop("validation", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _stop(self, where: str, logs) -> None:
        bad = ", ".join(f"{k} {v}" for k, v in logs.items() if isinstance(v, numbers.Real) and not math.isfinite(v))
        rate = self._learning_rate()
        end_progress_line(self)
        raise TrainingDiverged(
            f"training diverged at epoch {getattr(self, 'epoch', 0) + 1}, {where}: {bad}; nothing of this epoch "
            f"was kept. Try a lower learning_rate{rate}, check the data and class "
            "weights, then start over with restart=True"
        )

    def _learning_rate(self) -> str:
        try:
            return f", now {float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)):.3g}"
        except (AttributeError, TypeError, ValueError):
            return ""



class EpochBackup(keras.callbacks.Callback):
    """Backs up every finished epoch (the weights with the optimizer state, through ``save_weights``) so that a
    killed run resumes where it stopped and a finished one can be extended (:func:`restore_backup`).

    A kill at any instant leaves a consistent backup: the weights go to a new file per epoch, then
    ``training_metadata.json``, renamed into place, points at them; older weight files are removed after.
    Keras' ``BackupAndRestore`` deletes its backup when training ends and writes in place.
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = Path(backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch{epoch + 1}.weights.h5"
        partial = self.backup_dir / "partial.weights.h5"
        self.model.save_weights(str(partial), overwrite=True)
        os.replace(partial, self.backup_dir / name)
        write_text(self.backup_dir / BACKUP_RECORD, json.dumps({"epoch": epoch + 1, "weights": name}))
        for old in self.backup_dir.glob("*.weights.h5"):
            if old.name != name:
                old.unlink()


BACKUP_RECORD = "training_metadata.json"


def restore_backup(model: keras.Model, backup_dir) -> int:
    """Loads the last backed-up epoch (weights and optimizer state) of ``backup_dir`` into the compiled ``model``;
    returns the number of finished epochs it holds, 0 when there is no backup (``model`` is then unchanged)."""
    record = Path(backup_dir) / BACKUP_RECORD
    if not record.exists():
        return 0
    try:
        state = json.loads(record.read_text())
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(str(Path(backup_dir) / state.get("weights", "latest.weights.h5")))
        return int(state["epoch"])
    except Exception as err:  # noqa: BLE001 - h5py, JSON and Keras shape errors alike
        raise ValueError(
            f"cannot resume from {backup_dir}: {str(err).splitlines()[0]}; "
            "pass restart=True to start the run over"
        ) from None


def backup_epoch(out_dir) -> int | None:
    """The number of finished epochs backed up in ``out_dir/backup``, None when there is no backup."""
    metadata = Path(out_dir) / "backup" / BACKUP_RECORD
    if not metadata.exists():
        return None
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"cannot resume from {metadata.parent}: {metadata} is damaged ({err}); "
            "pass restart=True to start the run over"
        ) from None


def trim_log(path: Path, epochs: int) -> None:
    """Keeps the header and the rows of epochs ``< epochs`` of a CSV log: a kill after a row was written and before
    the backup of its epoch would otherwise log that epoch twice; a half-written last line goes too."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    if not lines:
        return
    width = len(lines[0].split(","))

    def kept(line: str) -> bool:
        fields = line.rstrip("\r\n").split(",")
        return line.endswith("\n") and len(fields) == width and fields[0].isdigit() and int(fields[0]) < epochs

    rows = [line for line in lines[1:] if kept(line)]
    if len(rows) + 1 < len(lines):
        write_text(path, "".join([lines[0], *rows]))


RUN_FILES = ("run.json", "log.csv", "best.keras", "best.json", "last.keras", "backup")


def check_run_dir(out: Path, config: dict, epochs: int, restart: bool) -> tuple[int, bool]:
    """``(finished epochs to resume from, whether a previous run is to be moved aside)``; refuses to discard or to
    mix runs. Writes nothing: :func:`start_run_dir` acts on the answer once everything else was checked.

    ``restart`` moves a previous run aside. Otherwise a run folder is resumed or extended with the options it
    was started with (a run whose epochs are done but whose final files are not is finished), or the call is
    refused with what to do.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {out} is a file, not a folder")
    found = [name for name in RUN_FILES if (out / name).exists()]
    if not found:
        return 0, False
    if restart:
        return 0, True
    if not (out / "run.json").exists():
        raise ValueError(
            f"{out} holds files of a run that cannot be resumed ({', '.join(found)}); pass restart=True "
            "to move them aside, or choose another out_dir"
        )
    try:
        saved = json.loads((out / "run.json").read_text())["config"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{out / 'run.json'} is damaged ({err}); pass restart=True to start the run over") from None
    changed = [key for key in sorted(set(saved) | set(config)) if saved.get(key) != config.get(key)]
    if changed:
        what = "; ".join(f"{key} {saved.get(key)!r}, now {config.get(key)!r}" for key in changed)
        raise ValueError(
            f"{out} was started with other options ({what}): give the same options to resume it, "
            "or pass restart=True to start over"
        )
    done = backup_epoch(out) or 0
    if done > epochs or (done == epochs and run_finished(out)):
        raise ValueError(
            f"{out} has already trained {done} epochs: pass epochs=N with N > {done} to train more, "
            "or restart=True to start over"
        )
    return done, False


def run_finished(out: Path) -> bool:
    """Whether a run's final files were written: ``last.keras`` and, when it has a best model, its scores (a run
    whose last step failed, e.g. on a validation split without labels, is finished by running it again)."""
    return (out / "last.keras").exists() and ((out / "best_scores.json").exists() or not (out / "best.keras").exists())


def start_run_dir(out: Path, replace: bool, verbose: int) -> None:
    """Moves the previous run in ``out`` to ``<out>-replaced-<time>`` when ``replace``; makes sure ``out`` exists."""
    if replace:
        moved = out.with_name(f"{out.name}-replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(out, moved)
        if verbose:
            print(f"restart: the previous run in {out} was moved to {moved}")
    out.mkdir(parents=True, exist_ok=True)


def remove_partials(out: Path) -> None:
    """Removes the temporary files of writes that a failure, Ctrl-C or a kill cut short (never a finished file,
    never a pending record, which the next start settles)."""
    for path in [*out.glob(".*.partial.*"), out / "backup" / "partial.weights.h5"]:
        if path.is_file():
            path.unlink()


def one_writer(train):
    """Decorator of ``train``: holds the lock of its ``out_dir`` while it runs (the chief of a multi-worker job:
    the others write into their own folders), so a second run into the same folder is refused at once, and
    removes the partial files of a run that fails or is interrupted."""
    signature = inspect.signature(train)

    @functools.wraps(train)
    def locked(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        out = Path(arguments.get("out_dir", signature.parameters["out_dir"].default))
        lock = OutputLock(out, "out_dir") if is_chief() else None
        if lock is not None:
            lock.acquire()
            if lock.stale and arguments.get("verbose", 1):
                print(f"{out}: taking over the lock of process {lock.stale['pid']}, which ended without releasing it")
            if out.is_dir():  # what a killed writer left half-written: no one else writes here now
                remove_partials(out)
        try:
            return train(*args, **kwargs)
        except BaseException:
            if out.is_dir():
                remove_partials(out)
            raise
        finally:
            if lock is not None:
                lock.release()

    return locked


def check_run(options: TrainOptions, multi_worker: bool) -> tuple[int, bool]:
    """:func:`check_run_dir` for ``train``'s options, before any data is read: ``(finished epochs, replace)``."""
    from kerasseg.data.datasets import input_folders
    from kerasseg.files import check_outside

    if multi_worker and options.restart:
        raise ValueError("restart=True with several workers: move the run folder aside before starting them")
    answer = check_run_dir(options.out, options.run_config(), options.epochs, options.restart)
    check_outside(options.out, "out_dir", input_folders(options.data, options.data_dir))
    return answer


def start_run(options: TrainOptions, done: int, replace: bool) -> None:
    """Acts on :func:`check_run`'s answer once everything a restart needs was checked: moves a previous run aside,
    drops log rows of epochs the backup does not hold, writes ``run.json`` for a new run."""
    out = options.out
    start_run_dir(out, replace, options.verbose)
    if is_chief():
        trim_log(out / "log.csv", done)
        if not (out / "run.json").exists():
            write_run_record(options)
    if done and options.verbose:
        print(f"resuming {out} at epoch {done + 1} of {options.epochs} (from {out / 'backup'})")


def write_run_record(options: TrainOptions) -> None:
    """``run.json``: the options a resumed run must share, and the epochs planned."""
    record = {"config": options.run_config(), "epochs": options.epochs}
    write_text(options.out / "run.json", json.dumps(record, indent=1))
