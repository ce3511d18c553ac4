"""Helpers of ``test_reliability.py``: tiny folder datasets, ways to damage them, snapshots of a run folder, and
(run as a script) the CLI in a process that kills itself with SIGKILL at a chosen instant.

    python tests/reliability_helpers.py POINT kerasseg-arguments...
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = 3


def write_folder(root: Path, n_train: int = 6, n_val: int = 2, size: int = 32, seed: int = 0) -> str:
    """``root/images/{train,val}`` and ``root/masks/{train,val}``: colour gives the class (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for folder in ("images", "masks"):
            (root / folder / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            labels = rng.integers(0, CLASSES, (size, size)).astype(np.uint8)
            image = np.eye(3)[labels] * 200 + rng.uniform(0, 55, (size, size, 3))
            Image.fromarray(image.astype(np.uint8)).save(root / "images" / split / f"{i}.png")
            Image.fromarray(labels).save(root / "masks" / split / f"{i}.png")
    return f"folder:{root / 'images'}:{root / 'masks'}"


def set_pixel(path: Path, value: int) -> None:
    mask = np.array(Image.open(path))
    mask[0, 0] = value
    Image.fromarray(mask).save(path)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def sixteen_bit(path: Path) -> None:
    """The mask saved as 16-bit PNG with values class * 1000 (a common export of annotation tools)."""
    mask = np.array(Image.open(path)).astype(np.uint16) * 1000
    Image.fromarray(mask).save(path)


def jpeg_damaged(path: Path) -> None:
    """The mask scaled for viewing (class * 100) and passed through JPEG, then saved as PNG again."""
    buffer = io.BytesIO()
    Image.fromarray(np.array(Image.open(path)) * 100).save(buffer, format="JPEG", quality=75)
    Image.open(buffer).convert("L").save(path)


def rgb_mask(path: Path) -> None:
    Image.open(path).convert("RGB").save(path)


def wrong_size(path: Path) -> None:
    mask = np.array(Image.open(path))
    Image.fromarray(mask[:, :-1]).save(path)


def snapshot(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _die():
    sys.stdout.flush()
    os.kill(os.getpid(), 9)


def _patch(point: str) -> None:
    """Makes the process kill itself at ``point`` (the second epoch, index 1, unless said otherwise)."""
    import keras

    from kerasseg import training

    if point == "mid-epoch":
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_now = epoch

        def on_batch(self, batch, logs=None):
            if self.epoch_now == 1 and batch == 1:
                _die()

        training.EpochBackup.on_epoch_begin = on_epoch_begin
        training.EpochBackup.on_train_batch_end = on_batch
    elif point == "after-log-row":  # CSV row of epoch 1 written, its backup not yet
        original = keras.callbacks.CSVLogger.on_epoch_end

        def on_epoch_end(self, epoch, logs=None):
            original(self, epoch, logs)
            if epoch == 1:
                _die()

        keras.callbacks.CSVLogger.on_epoch_end = on_epoch_end
    elif point == "backup-write":  # the weights of epoch 2 written under their temporary name, not renamed
        original = training.EpochBackup.on_epoch_end

        def save(self, epoch, logs=None):
            if epoch == 1:
                self.model.save_weights(os.path.join(self.backup_dir, "partial.weights.h5"))
                _die()
            original(self, epoch, logs)

        training.EpochBackup.on_epoch_end = save
    elif point == "best-write":  # best.keras of epoch 1 written under its temporary name, not renamed
        original = training.BestModelCheckpoint.on_epoch_end

        def best(self, epoch, logs=None):
            if epoch == 1:
                self.model.save(self.path.with_name(".best.partial.keras"))
                _die()
            original(self, epoch, logs)

        training.BestModelCheckpoint.on_epoch_end = best
    elif point == "best-renames":  # best.keras of epoch 0 renamed into place, its record not yet
        replace = os.replace

        def replace_then_die(src, dst):
            replace(src, dst)
            if Path(dst).name == "best.keras":
                _die()

        os.replace = replace_then_die
    elif point in ("export-before-rename", "export-rename"):  # the new export checked; renamed into place or not
        replace = os.replace
        target = os.path.abspath(sys.argv[sys.argv.index("--out") + 1])

        def replace_around_death(src, dst):
            if os.path.abspath(dst) == target and point == "export-before-rename":
                _die()
            replace(src, dst)
            if os.path.abspath(dst) == target:
                _die()

        os.replace = replace_around_death
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _patch(sys.argv[1])
    import kerasseg_cli as cli

    sys.exit(cli.main(sys.argv[2:]))
