"""Files written whole or not at all, and the SHA-256 that ties a record (a parity report, ``best.json``) to the
file it describes, so that a (file, record) pair is replaced together."""

from __future__ import annotations

import contextlib
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


def file_hash(path, algorithm: str = "sha256") -> str:
    """The hex digest of a file in ``algorithm`` (a :func:`hashlib.new` name), read in blocks: the one place
    kerasseg hashes a file (records, the zoo's index and downloads, Keras' published ImageNet hashes)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path) -> str:
    """The SHA-256 of a file, hex."""
    return file_hash(path, "sha256")


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


def partial_path(path) -> str:
    """The hidden temporary name a file is written under beside ``path``, keeping its suffix (Keras and PIL choose
    the format by it): ``best.keras`` → ``.best.partial.keras``."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, suffix = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.partial{suffix}")


@contextlib.contextmanager
def replacing(path):
    """Yields the temporary path to write ``path``'s new content to; renames it onto ``path`` when the block
    ends, or removes it when the block raises (a full disk, Ctrl-C): ``path`` is replaced whole or left as it was,
    and no partial file stays behind."""
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise


def relation(a, b) -> str | None:
    """How folder ``a`` stands to ``b`` (symbolic links resolved): "is", "is inside", "holds", or None (apart)."""
    a, b = os.path.realpath(a), os.path.realpath(b)
    if a == b:
        return "is"
    if a.startswith(b.rstrip(os.sep) + os.sep):
        return "is inside"
    return "holds" if b.startswith(a.rstrip(os.sep) + os.sep) else None


def check_outside(out, name: str, inputs: dict) -> None:
    """Refuses an output ``out`` (the argument ``name``, e.g. "out_dir") that is, is inside or holds one
    of the ``inputs`` (``{what: folder}``): writing there, or moving it aside on a restart, would change the
    inputs themselves."""
    for what, folder in inputs.items():
        found = relation(out, folder) if folder is not None else None
        if found:
            raise ValueError(
                f"{name} {out} {found} {what} {folder}: outputs are never written among the inputs (they "
                "could be read back as data, or moved aside with a restarted run); choose one outside it"
            )


def describe_os_error(err: OSError, output=None) -> str:
    """One line for an operating-system error: the path (``err.filename``, else ``output``, the command's output),
    the cause with its errno name, and what to do."""
    import errno

    path = err.filename or output or "?"
    name = errno.errorcode.get(err.errno, "") if err.errno else ""
    cause = f"{err.strerror or err} ({name})" if name else str(err.strerror or err)
    return f"{path}: {cause}{_what_to_do(err.errno, path, output)}"


def _what_to_do(number, path, output) -> str:
    import errno

    if number == errno.ENOSPC:
        return "; free some space (or choose another --out) and run the same command again"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "; choose an --out where you may write" if _written(path, output) else "; check its permissions"
    if number in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in _ancestors(path) if os.path.exists(p) and not os.path.isdir(p)), None)
        return f"; {blocker} is a file, not a folder" if blocker else ""
    return ""


def _written(path, output) -> bool:
    """Whether ``path`` is the command's ``output``, inside it, or beside it (its lock, its temporary files)."""
    if output is None:
        return False
    path, output = os.path.abspath(path), os.path.abspath(output)
    return path == output or path.startswith(output + os.sep) or os.path.dirname(path) == os.path.dirname(output)


def _ancestors(path) -> list[str]:
    """``path`` and the folders above it, the root first."""
    path, found = os.path.abspath(path), []
    while os.path.dirname(path) != path:
        found.append(path)
        path = os.path.dirname(path)
    return found[::-1]


def ensure_space(folder, need: int) -> None:
    """Raises ``OSError(ENOSPC)`` naming ``folder`` when it has less than ``need`` bytes free: checked before a
    write whose writer reports a full disk badly (h5py, which Keras saves weights with, only warns from its
    garbage collector, or crashes, and leaves a torn file)."""
    import errno
    import shutil

    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(errno.ENOSPC, f"No space left on device: {need / 1e6:.3g} MB needed, {free / 1e6:.3g} MB free",
                      str(folder))
