"""A run folder: files written so that a kill at any instant leaves a consistent state, and the rules for
rerunning into it (resume, extend, refuse, or ``restart`` to move it aside).

``run.json`` (the options), ``log.csv``, ``best.keras`` + ``best.json``, ``last.keras``, ``backup/`` (the last
finished epoch: weights with the optimizer state, and ``training_metadata.json`` naming them).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras

from kerasseg.files import settle_record, sha256, write_atomic


def write_text(path: Path, text: str) -> None:
    write_atomic(text.encode("utf-8"), str(path))


def save_model(model: keras.Model, path) -> Path:
    """``model.save`` under a temporary ``.keras`` name, then an atomic rename onto ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


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
        tmp = self.path.with_name(f".{self.path.stem}.partial.keras")
        self.model.save(tmp)
        best = {"epoch": epoch + 1, self.monitor: float(value), "sha256": sha256(tmp)}
        write_text(self.pending_path, json.dumps(best))
        os.replace(tmp, self.path)
        os.replace(self.pending_path, self.record_path)
        self.best = best



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
            "pass --restart (restart=True) to start the run over"
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
            "pass --restart (restart=True) to start the run over"
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


def prepare_run_dir(out: Path, config: dict, epochs: int, restart: bool, verbose: int) -> int:
    """The finished epochs to resume from (0: a new run); refuses to discard or to mix runs.

    ``restart`` moves a previous run to ``<out>-replaced-<time>``. Otherwise a run folder is resumed or extended
    with the options it was started with, or the call is refused with what to do.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found and restart:
        moved = out.with_name(f"{out.name}-replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(out, moved)
        if verbose:
            print(f"restart: the previous run in {out} was moved to {moved}")
        found = []
    out.mkdir(parents=True, exist_ok=True)
    if not found:
        return 0
    if not (out / "run.json").exists():
        raise ValueError(
            f"{out} holds files of a run that cannot be resumed ({', '.join(found)}); pass --restart "
            "(restart=True) to move them aside, or choose another --out"
        )
    try:
        saved = json.loads((out / "run.json").read_text())["config"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{out / 'run.json'} is damaged ({err}); pass --restart to start the run over") from None
    changed = [key for key in sorted(set(saved) | set(config)) if saved.get(key) != config.get(key)]
    if changed:
        what = "; ".join(f"{key} {saved.get(key)!r}, now {config.get(key)!r}" for key in changed)
        raise ValueError(
            f"{out} was started with other options ({what}): give the same options to resume it, "
            "or pass --restart (restart=True) to start over"
        )
    done = backup_epoch(out) or 0
    if done >= epochs:
        raise ValueError(
            f"{out} has already trained {done} epochs: pass --epochs N with N > {done} to train more, "
            "or --restart to start over"
        )
    return done


def run_config(model, data, val, **options) -> dict:
    """What a resumed run must share with the run it continues, as JSON values."""
    name = model if isinstance(model, str) else f"<model {model.name}>"
    config = {"model": name, "data": data if isinstance(data, str) else "<dataset>",
              "val": val if val is None or isinstance(val, (str, bool)) else "<dataset>", **options}
    return json.loads(json.dumps(config, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
