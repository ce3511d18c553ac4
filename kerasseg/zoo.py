"""The model zoo: trained models with their exports and a card, found locally or downloaded once into a cache.

    model = kerasseg.load("camvid-mobile")             # keras.Model, loaded with safe_mode=True
    kerasseg.zoo.list_entries()                         # ["camvid-mobile", "isbi-unet", ...]
    kerasseg.zoo.entry_file("camvid-mobile", "int8")    # Path of model_int8.tflite (MediaPipe metadata inside)
    kerasseg.zoo.card("camvid-mobile")["check"]         # the figures the tests reproduce

Each entry holds ``model.keras``, ``model_int8.tflite``, ``model_fp16.tflite``, ``model.onnx``, ``labels.txt`` and
``CARD.md``; the card ends with a JSON block (data, input size, training, scores of every format) that
``saved_models/make_entry.py`` writes from the finished training run.

Where a file is looked for, in order: the ``root`` argument (then only there), or ``$KERASSEG_ZOO`` (a folder of
entries); the installed package's ``kerasseg.zoo_models`` (a wheel carries each entry's ``model.keras``,
``labels.txt`` and ``CARD.md``; an editable install maps it to its checkout's ``saved_models/``, as setup.py
says); the download cache ``$KERASSEG_CACHE`` (default ``~/.cache/kerasseg/zoo``). Nothing outside these: a
checkout's ``saved_models/`` beside an installed package is not looked in. A file found in none
of them is downloaded from ``$KERASSEG_ZOO_URL/<entry>/<file>`` into the cache and checked against the SHA-256 in
``index.json`` (written by ``make_entry.py``); a mismatch is an error and nothing is kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path

from kerasseg.files import sha256 as file_sha256

INDEX = "index.json"
# format -> file name inside an entry
FILES = {
    "keras": "model.keras",
    "int8": "model_int8.tflite",
    "fp16": "model_fp16.tflite",
    "onnx": "model.onnx",
    "labels": "labels.txt",
    "card": "CARD.md",
}
EXPORT_FORMATS = ("keras", "int8", "fp16", "onnx")
_CARD_JSON = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def _roots(root: str | Path | None = None) -> list[Path]:
    """The folders searched for entries, in order (see the module docstring)."""
    if root is not None:
        return [Path(root)]
    roots = [Path(os.environ["KERASSEG_ZOO"])] if os.environ.get("KERASSEG_ZOO") else []
    return roots + package_zoo() + [cache_dir()]


def package_zoo() -> list[Path]:
    """The folders of the installed package's ``kerasseg.zoo_models`` (setup.py's name for ``saved_models/``):
    inside the package in a wheel, the checkout's ``saved_models/`` in an editable install; none when run from a
    source tree that is not installed (set ``KERASSEG_ZOO`` or pass ``root`` there)."""
    import importlib.util

    spec = importlib.util.find_spec("kerasseg.zoo_models")
    return [Path(folder) for folder in (spec.submodule_search_locations or [])] if spec else []


def zoo_root(root: str | Path | None = None) -> Path:
    """The first zoo folder that exists (``root``, ``$KERASSEG_ZOO``, the package's, the cache)."""
    roots = _roots(root)
    return next((folder for folder in roots if folder.is_dir()), roots[0])


def cache_dir() -> Path:
    """Where downloaded entries are kept: ``$KERASSEG_CACHE``, else ``~/.cache/kerasseg/zoo``."""
    return Path(os.environ.get("KERASSEG_CACHE") or Path.home() / ".cache" / "kerasseg" / "zoo")


def index(root: str | Path | None = None) -> dict:
    """``{entry: {file name: sha256}}`` of every known entry, downloadable or not (``index.json``)."""
    for folder in _roots(root):
        if (folder / INDEX).is_file():
            return json.loads((folder / INDEX).read_text(encoding="utf-8"))
    return {}


def list_entries(root: str | Path | None = None) -> list[str]:
    """Names of the zoo's entries: folders with a ``model.keras`` and a ``CARD.md``, or listed in the index."""
    names = set() if root is not None else set(index())
    for folder in _roots(root):
        if folder.is_dir():
            names |= {p.name for p in folder.iterdir() if (p / FILES["keras"]).is_file() and (p / FILES["card"]).is_file()}
    return sorted(names)


def entry_dir(name: str, root: str | Path | None = None) -> Path:
    """The first folder holding entry ``name``; an unknown name gets a ``ValueError`` listing the entries."""
    if root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"the model zoo folder {root} does not exist (set KERASSEG_ZOO or pass root)")
    entries = list_entries(root)
    if name not in entries:
        raise ValueError(f"Unknown zoo entry {name!r}; valid entries: {', '.join(entries) or '(none)'}")
    for folder in _roots(root):
        if (folder / name / FILES["keras"]).is_file():
            return folder / name
    return cache_dir() / name


def entry_file(name: str, fmt: str = "keras", root: str | Path | None = None) -> Path:
    """The file of one format of an entry: "keras", "int8", "fp16", "onnx", "labels" or "card".

    Searched in every zoo folder; downloaded into the cache (SHA-256 checked) when no folder has it.
    """
    if fmt not in FILES:
        raise ValueError(f"Unknown zoo file format {fmt!r}; valid formats: {', '.join(FILES)}")
    folder = entry_dir(name, root)
    for candidate in [folder / FILES[fmt]] + [r / name / FILES[fmt] for r in _roots(root)]:
        if candidate.is_file():
            return candidate
    if root is None:
        expected = index().get(name, {}).get(FILES[fmt])
        if expected:
            return download(name, FILES[fmt], expected)
    raise FileNotFoundError(f"zoo entry {name!r} has no {fmt} file {folder / FILES[fmt]}")


def write_index(root: str | Path) -> dict:
    """Writes ``root/index.json``: the SHA-256 of every file of every entry under ``root`` (for downloads)."""
    root = Path(root)
    entries = {}
    for folder in sorted(p for p in root.iterdir() if (p / FILES["keras"]).is_file()):
        entries[folder.name] = {
            file: file_sha256(folder / file)
            for file in sorted(FILES.values())
            if (folder / file).is_file()
        }
    (root / INDEX).write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return entries


def download(name: str, file: str, sha256: str, base_url: str | None = None) -> Path:
    """Downloads ``<base_url>/<name>/<file>`` into the cache, checks its SHA-256, and returns its path.

    ``base_url`` defaults to ``$KERASSEG_ZOO_URL``. The file is written under a temporary name and renamed only
    when its hash matches, so an interrupted or corrupt download leaves nothing behind.
    """
    base_url = base_url or os.environ.get("KERASSEG_ZOO_URL")
    target = cache_dir() / name / file
    if not base_url:
        raise FileNotFoundError(
            f"zoo entry {name!r}: {file} is not installed and KERASSEG_ZOO_URL (where to download it from) is not "
            f"set; install the file as {target} or set KERASSEG_ZOO_URL"
        )
    url = f"{base_url.rstrip('/')}/{name}/{file}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{file}.", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp, 1 << 20)
        except OSError as error:
            os.unlink(tmp.name)
            raise FileNotFoundError(f"zoo entry {name!r}: could not download {url} ({error})") from error
    got = file_sha256(tmp.name)
    if got != sha256:
        os.unlink(tmp.name)
        raise ValueError(f"zoo entry {name!r}: {url} has SHA-256 {got}, expected {sha256}; not kept")
    os.replace(tmp.name, target)
    return target


def load(name: str, root: str | Path | None = None):
    """The trained ``keras.Model`` of zoo entry ``name`` (``safe_mode=True``, not compiled).

    Input RGB (batch, H, W, 3) in [0, 255] of any size; output ``logits`` (batch, H, W, classes).
    """
    from kerasseg.evaluation import load_model

    return load_model(entry_file(name, "keras", root))


def labels(name: str, root: str | Path | None = None) -> list[str]:
    """The class names of an entry, in output-channel order (its ``labels.txt``)."""
    from kerasseg.export import read_label_file

    return read_label_file(str(entry_file(name, "labels", root)))


def card(name: str, root: str | Path | None = None) -> dict:
    """The machine-readable summary at the end of an entry's ``CARD.md`` (the last fenced ``json`` block)."""
    path = entry_file(name, "card", root)
    blocks = _CARD_JSON.findall(path.read_text(encoding="utf-8"))
    if not blocks:
        raise ValueError(f"{path} has no ```json block (write cards with saved_models/make_entry.py)")
    return json.loads(blocks[-1])
