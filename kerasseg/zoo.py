"""The model zoo: trained models shipped in ``saved_models/<name>/`` with their exports and a card.

    model = kerasseg.load("camvid-mobile")             # keras.Model, loaded with safe_mode=True
    kerasseg.zoo.list_entries()                         # ["camvid-mobile", "isbi-unet", ...]
    kerasseg.zoo.entry_file("camvid-mobile", "int8")    # Path of model_int8.tflite (MediaPipe metadata inside)
    kerasseg.zoo.card("camvid-mobile")["check"]         # the figures the tests reproduce

Each entry holds ``model.keras``, ``model_int8.tflite``, ``model_fp16.tflite``, ``model.onnx``, ``labels.txt`` and
``CARD.md``; the card ends with a JSON block (data, input size, training, scores of every format) that
``saved_models/make_entry.py`` writes from the finished training run. The zoo folder is ``saved_models/`` beside
the package, or ``$KERASSEG_ZOO``, or the ``root`` argument. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

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


def zoo_root(root: str | Path | None = None) -> Path:
    """The zoo folder: ``root``, else ``$KERASSEG_ZOO``, else ``saved_models/`` beside the package."""
    if root is not None:
        return Path(root)
    if os.environ.get("KERASSEG_ZOO"):
        return Path(os.environ["KERASSEG_ZOO"])
    return Path(__file__).resolve().parents[1] / "saved_models"


def list_entries(root: str | Path | None = None) -> list[str]:
    """Names of the zoo's entries (folders with a ``model.keras`` and a ``CARD.md``), sorted."""
    folder = zoo_root(root)
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if (p / FILES["keras"]).is_file() and (p / FILES["card"]).is_file()
    )


def entry_dir(name: str, root: str | Path | None = None) -> Path:
    """The folder of entry ``name``; an unknown name gets a ``ValueError`` listing the entries."""
    folder = zoo_root(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"the model zoo folder {folder} does not exist (set KERASSEG_ZOO or pass root)")
    entries = list_entries(folder)
    if name not in entries:
        raise ValueError(f"Unknown zoo entry {name!r}; valid entries: {', '.join(entries) or '(none)'}")
    return folder / name


def entry_file(name: str, fmt: str = "keras", root: str | Path | None = None) -> Path:
    """The file of one format of an entry: "keras", "int8", "fp16", "onnx", "labels" or "card"."""
    if fmt not in FILES:
        raise ValueError(f"Unknown zoo file format {fmt!r}; valid formats: {', '.join(FILES)}")
    path = entry_dir(name, root) / FILES[fmt]
    if not path.is_file():
        raise FileNotFoundError(f"zoo entry {name!r} has no {fmt} file {path}")
    return path


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
