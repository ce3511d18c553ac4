"""Helpers of ``test_reliability.py``: tiny folder datasets, ways to damage them, snapshots of a run folder, and
(run as a script) the CLI in a process that kills itself with SIGKILL at a chosen instant.

    python tests/reliability_helpers.py POINT kerasseg-arguments...
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
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


def jpeg_mask(path: Path) -> None:
    """The mask saved as JPEG instead of PNG (``1.png`` becomes ``1.jpg``), as image tools offer by default."""
    Image.open(path).save(path.with_suffix(".jpg"), quality=95)
    path.unlink()


def dangling(path: Path) -> None:
    """The file replaced by a symbolic link to a file that does not exist (a moved or unmounted original)."""
    path.unlink()
    path.symlink_to(path.parent / "moved-away" / path.name)


def same_stem(path: Path) -> None:
    """A second image of the same stem beside ``path`` (``1.png`` and ``1.jpg``)."""
    Image.open(path).convert("RGB").save(path.with_suffix(".jpg"), quality=95)


def all_ignored(folder: Path) -> None:
    """Every mask of ``folder`` set to the ignore label: a split without one labelled pixel."""
    for path in folder.iterdir():
        mask = np.array(Image.open(path))
        Image.fromarray(np.full_like(mask, 255)).save(path)


def exif_tagged(image: Path, mask: Path, orientation: int = 6, stored_turned: bool = False) -> Path:
    """Replaces a pair by a 32x48 one whose image is a JPEG with EXIF ``orientation`` (6: viewers turn it a
    quarter clockwise). ``stored_turned``: the stored pixels are turned the other way, so the image shows upright
    (as a phone saves it); else they are stored upright and the tag turns them away from the mask."""
    rng = np.random.default_rng(1)
    labels = np.kron(rng.integers(0, CLASSES, (4, 6)), np.ones((8, 8))).astype(np.uint8)  # 8x8 blocks: JPEG-safe
    shown = (np.eye(3)[labels] * 200 + 20).astype(np.uint8)
    stored = np.rot90(shown, 1) if stored_turned else shown  # orientation 6 is undone by a quarter turn clockwise
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.unlink()
    jpeg = image.with_suffix(".jpg")
    Image.fromarray(np.ascontiguousarray(stored)).save(jpeg, quality=98, exif=exif.tobytes())
    Image.fromarray(labels).save(mask)
    return jpeg


def snapshot(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- real processes, file systems and permissions -----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]


# Started as ``python -c LAUNCH [drop] ARGV``: Ctrl-C (SIGINT) made to raise KeyboardInterrupt as in a terminal (a
# test runner's worker may ignore SIGINT, which a child would inherit), with ``drop`` the capabilities that let
# root write where permission bits forbid it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) dropped from the bounding
# set, then ``python -m kerasseg_cli ARGV`` (the ``kerasseg`` program) exec'd: the exec gives it those rules (EACCES as any user), and no Python
# runs between fork and exec (``preexec_fn`` can deadlock a multithreaded parent such as a TensorFlow test).
LAUNCH = """
import ctypes, os, signal, sys
drop = sys.argv[1] == "drop"
if drop and os.geteuid() == 0:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0):  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored: reset to the default by exec
os.execv(sys.executable, [sys.executable, "-m", "kerasseg_cli", *sys.argv[2:]])
"""


def cli_process(argv, cwd, permission_override: bool = True) -> subprocess.Popen:
    """``python -m kerasseg_cli ARGV`` in a process of its own that Ctrl-C interrupts as in a terminal; without
    ``permission_override`` a root process obeys permission bits (a read-only folder gives EACCES)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    mode = "keep" if permission_override else "drop"
    return subprocess.Popen([sys.executable, "-c", LAUNCH, mode, *map(str, argv)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def helper_process(point: str, argv, cwd) -> subprocess.Popen:
    """This script in a process of its own: the CLI with ``point`` patched in (see :func:`_patch`)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, __file__, point, *map(str, argv)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of a finished CLI process; no Python trace may reach the user."""
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    return proc.returncode, out, err


def interrupt(proc: subprocess.Popen, number: int = signal.SIGINT, tries: int = 3, patience: float = 60) -> None:
    """Sends ``number`` (Ctrl-C) as a user would: again if the process still runs after ``patience`` seconds (a
    native library, TensorFlow's, may swallow the KeyboardInterrupt of a signal that lands inside it)."""
    for _ in range(tries):
        proc.send_signal(number)
        try:
            proc.wait(timeout=patience)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Waits until ``path`` exists while ``proc`` runs; fails with the process's output if it ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{path} never appeared (exit {proc.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
        time.sleep(0.02)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False):
    """A real tmpfs of ``size`` mounted on ``folder`` (needs root or CAP_SYS_ADMIN: the test fails, never skips,
    without it), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode:
        raise AssertionError(f"cannot mount a tmpfs on {folder} (these tests need root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def resize_tmpfs(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fills ``folder``'s file system with one file, then gives ``leave`` bytes back: a disk that really is full."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        f.truncate(max(0, f.tell() - leave))
    return filler


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
    elif point == "predict-write":  # the second PNG of predict written under its temporary name, not renamed
        from kerasseg.evaluation import visualize
        from kerasseg.files import partial_path

        save, calls = visualize.save_png, []

        def save_then_die(image, path):
            calls.append(path)
            if len(calls) == 2:
                image.save(partial_path(path), format="PNG")
                _die()
            return save(image, path)

        visualize.save_png = save_then_die
    elif point == "export-waits":  # the export's lock held until a file "go" appears in the working folder
        from kerasseg.export import workflow

        convert = workflow._convert_and_check

        def wait_then_convert(*args, **kwargs):
            while not Path("go").exists():
                time.sleep(0.02)
            return convert(*args, **kwargs)

        workflow._convert_and_check = wait_then_convert
    elif point == "export-waits-in-check":  # converted to its partial file, its check waiting for "go"
        from kerasseg.export import workflow

        check = workflow.parity_report

        def wait_then_check(*args, **kwargs):
            Path("waiting").touch()  # the test signals only now: the signal lands in Python, not in native code
            while not Path("go").exists():
                time.sleep(0.02)
            return check(*args, **kwargs)

        workflow.parity_report = wait_then_check
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import kerasseg_cli as cli  # the command line, before TensorFlow is loaded

    cli._quiet_native_logging()  # as the kerasseg program, before _patch imports TensorFlow
    _patch(sys.argv[1])
    sys.exit(cli.main(sys.argv[2:]))
