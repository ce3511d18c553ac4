"""Files written whole or not at all, and the SHA-256 that ties a record (a parity report, ``best.json``) to the
file it describes, so that a (file, record) pair is replaced together."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile


def write_atomic(data: bytes, path: str) -> str:
    """Writes ``data`` to a temporary file beside ``path`` and renames it, so no half-written file remains."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp_path, 0o666 & ~mask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def sha256(path: str) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settle_record(pending, record, described) -> None:
    """Completes a (file, JSON record) pair that a kill interrupted between its two renames: a ``pending`` record
    whose ``sha256`` is the ``described`` file's is renamed onto ``record``; any other pending record is dropped."""
    if not os.path.isfile(pending):
        return
    with open(pending, encoding="utf-8") as f:
        wanted = json.load(f).get("sha256")
    if os.path.isfile(described) and wanted == sha256(described):
        os.replace(pending, record)
    else:
        os.remove(pending)
