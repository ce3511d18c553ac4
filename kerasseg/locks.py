"""One writer per output: a lock file beside a run folder or an export, held with ``flock`` while a command writes
there. A second ``kerasseg train`` into the same folder (or ``export`` to the same file) is refused at once, naming
the process that holds it; a lock left by a killed process is free again (the kernel drops a dead process's
``flock``) and is taken over.

The lock file lies beside the output (``runs/.unet-camvid.lock`` for ``runs/unet-camvid``), not inside it, so that
``--restart``, which moves the run folder aside, keeps it; it is removed when the writer finishes.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path


class OutputInUse(ValueError):
    """Another process writes to the same output."""


def lock_path(target) -> Path:
    """The lock file of ``target`` (a run folder or an export file): ``.<name>.lock`` beside it."""
    target = Path(os.path.abspath(target))
    return target.with_name(f".{target.name}.lock")


def _holder(fd: int) -> dict:
    """What the lock file says about its writer ({} when it says nothing readable)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8")
        holder = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder: dict) -> str:
    """``process 1234 (kerasseg train ..., since 14:02:11)`` from a lock file's record."""
    if not holder.get("pid"):
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(holder["started"])) if holder.get("started") else "?"
    return f"process {holder['pid']} ({holder.get('command', '?')}, since {since})"


def _command() -> str:
    program = "kerasseg" if "kerasseg" in sys.argv[0] else os.path.basename(sys.argv[0])
    return " ".join([program, *sys.argv[1:]])[:300]


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class OutputLock:
    """``with OutputLock(target, "out_dir"):`` holds the lock of ``target`` for the block.

    ``stale``: the record of a previous holder that died without releasing it (taken over), else None.
    """

    def __init__(self, target, name: str = "output"):
        self.target, self.name = Path(target), name
        self.path = lock_path(target)
        self.fd: int | None = None
        self.stale: dict | None = None

    def acquire(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise OutputInUse(
                    f"{self.name} {self.target} is in use: {describe(holder)} is writing to it (lock "
                    f"{self.path}); wait for it to finish, stop it, or choose another output"
                ) from None
            if _same_file(fd, self.path):  # not removed by a holder that released it meanwhile
                break
            os.close(fd)
        previous = _holder(fd)
        self.stale = previous if previous.get("pid") and previous["pid"] != os.getpid() else None
        self.fd = fd
        try:
            record = {"pid": os.getpid(), "command": _command(), "started": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        except OSError as err:  # a full disk: no lock file left behind, and the path named
            self.release()
            raise OSError(err.errno, err.strerror, str(self.path)) from None
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        if _same_file(self.fd, self.path):
            os.remove(self.path)  # while still locked: a waiting process then locks a new file, never this one
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
