"""The model zoo (issue #6): every committed entry loads with ``safe_mode``, keeps its promises (files, labels,
builtin-op TFLite with uint8 input) and its card's check figure is reproduced, on the first val images, by the
Keras model and by the int8 export, so a card cannot drift from its model.

The scores here are computed independently of kerasseg's data, metrics and export code: images and masks are read
with PIL from ``../shared/data``, the int8 file runs in a bare LiteRT interpreter and the IoU comes from a numpy
confusion matrix. Expected values come from the card (written by ``saved_models/make_entry.py``).
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kerasseg
from kerasseg import zoo

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "saved_models"
EXPECTED_ENTRIES = {"camvid-mobile", "isbi-unet", "camvid-lite"}  # issues #6 and #26 (the phone entry)
ENTRY_FILES = {"model.keras", "model_int8.tflite", "model_fp16.tflite", "model.onnx", "labels.txt", "CARD.md"}
MAX_ENTRY_BYTES = 40e6  # "tens of MB in all", per entry
# Same machine kind: identical up to float summation order (a few pixels); int8 kernels may round differently
# on another CPU. A retrained or swapped model moves these figures by far more.
TOLERANCE = {"keras": 0.003, "int8": 0.01}
CAMVID_UNLABELLED = 11


def entries():
    return zoo.list_entries(ZOO)


def test_the_issue_entries_are_committed():
    assert EXPECTED_ENTRIES <= set(entries())


def test_package_exports_load():
    assert kerasseg.load is zoo.load


def test_unknown_entry_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid entries") as error:
        zoo.load("camvid-huge", root=ZOO)
    assert all(name in str(error.value) for name in EXPECTED_ENTRIES & set(entries()))
    assert "camvid-huge" in str(error.value)
    with pytest.raises(ValueError, match="valid formats"):
        zoo.entry_file("camvid-mobile", "tflite32", root=ZOO)


def test_missing_zoo_folder(tmp_path):
    assert zoo.list_entries(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.load("camvid-mobile", root=tmp_path / "nowhere")


def test_unless_named_the_zoo_is_the_package_s_own_and_the_cache(tmp_path, monkeypatch):
    # Not the checkout's saved_models/ beside kerasseg/: a wheel has no such folder (and a stale clone beside an
    # installed package is not its zoo).
    monkeypatch.delenv("KERASSEG_ZOO", raising=False)
    monkeypatch.setenv("KERASSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(zoo, "package_zoo", lambda: [])  # a source tree that is not installed
    assert zoo._roots() == [tmp_path / "cache"]
    assert (zoo.list_entries(), zoo.index()) == ([], {})
    monkeypatch.setenv("KERASSEG_ZOO", str(ZOO))
    assert EXPECTED_ENTRIES <= set(zoo.list_entries())


def test_the_package_zoo_is_kerasseg_zoo_models(tmp_path, monkeypatch):
    # A wheel's layout (setup.py installs saved_models/ as kerasseg.zoo_models): kerasseg/zoo_models/<entry>/.
    entry = tmp_path / "kerasseg" / "zoo_models" / "some-entry"
    entry.mkdir(parents=True)
    for file in ("model.keras", "CARD.md"):
        (entry / file).write_bytes(b"")
    monkeypatch.setattr(kerasseg, "__path__", [*kerasseg.__path__, str(tmp_path / "kerasseg")])
    monkeypatch.delenv("KERASSEG_ZOO", raising=False)
    assert tmp_path / "kerasseg" / "zoo_models" in zoo.package_zoo()
    assert zoo.entry_dir("some-entry") == entry


def val_pairs(shared: Path, dataset: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` val images (float RGB) and masks (class ids, 255 ignored), read with PIL."""
    if dataset == "camvid":
        root = shared / "data" / "camvid"
        lines = (root / "val.txt").read_text().split("\n")[:n]
        pairs = [[root / p for p in line.split()] for line in lines]
    elif dataset == "isbi2012":
        root = shared / "data" / "isbi2012"
        pairs = [(root / "image" / f"{i}.png", root / "label" / f"{i}.png") for i in range(25, 25 + n)]
    else:
        raise AssertionError(f"no reader for {dataset}")
    images = np.stack([np.asarray(Image.open(i).convert("RGB"), np.float32) for i, _ in pairs])
    masks = np.stack([np.asarray(Image.open(m), np.int64) for _, m in pairs])
    if dataset == "camvid":
        masks[masks == CAMVID_UNLABELLED] = 255
    else:
        masks = np.where(masks == 255, 1, 0)
    return images, masks


def figures(masks: np.ndarray, predicted: np.ndarray, classes: int) -> dict:
    keep = masks != 255
    confusion = np.bincount(masks[keep] * classes + predicted[keep], minlength=classes * classes)
    confusion = confusion.reshape(classes, classes).astype(np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    return {
        "miou": float(np.nanmean(iou)),
        "pixel_error": float(1 - tp.sum() / confusion.sum()),
        "foreground_iou": float(iou[1]) if classes == 2 else None,
    }


def int8_argmax(path: Path, images: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8  # camera pixels in
    predicted = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[None].astype(np.uint8))
        interpreter.invoke()
        predicted.append(interpreter.get_tensor(out["index"])[0].argmax(-1))
    return np.stack(predicted)


def at_deployment_size(images: np.ndarray, masks: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """Images resized bilinearly and masks by nearest neighbour with TensorFlow's own op, as an app would."""
    import tensorflow as tf

    images = tf.image.resize(images, size, method="bilinear").numpy()
    masks = tf.image.resize(masks[..., None], size, method="nearest").numpy()[..., 0]
    return images, masks


@pytest.mark.slow  # full resolution, every check image
@pytest.mark.parametrize("name", sorted(EXPECTED_ENTRIES))
def test_entry_reproduces_its_card(name, shared_dir):
    card = zoo.card(name, root=ZOO)
    images, masks = val_pairs(shared_dir, card["dataset"], card["check_images"])
    if list(images.shape[1:3]) != card["input_size"]:  # a phone entry deployed below the frame's size
        images, masks = at_deployment_size(images, masks, card["input_size"])
    assert list(images.shape[1:3]) == card["input_size"]
    model = zoo.load(name, root=ZOO)
    classes = len(card["classes"])
    assert model.output_shape[-1] == classes
    predicted = {
        "keras": np.asarray(model(images, training=False)).argmax(-1),
        "int8": int8_argmax(zoo.entry_file(name, "int8", root=ZOO), images),
    }
    for fmt, labels in predicted.items():
        got = figures(masks, labels, classes)
        for metric in card["check_metrics"]:
            assert got[metric] == pytest.approx(card["check"][fmt][metric], abs=TOLERANCE[fmt]), (fmt, metric)


@pytest.mark.parametrize("name", sorted(EXPECTED_ENTRIES))
def test_entry_files_and_labels(name):
    from kerasseg.export import read_labels, tflite_input_size, tflite_ops

    folder = zoo.entry_dir(name, root=ZOO)
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert set(files) == ENTRY_FILES
    assert sum(files.values()) < MAX_ENTRY_BYTES
    card = zoo.card(name, root=ZOO)
    names = zoo.labels(name, root=ZOO)
    assert names == card["classes"]
    for fmt in ("int8", "fp16"):
        path = str(zoo.entry_file(name, fmt, root=ZOO))
        assert read_labels(path) == names  # MediaPipe's label map, packed in the metadata
        assert list(tflite_input_size(path)) == card["input_size"]
        assert not [op for op in tflite_ops(path) if op.startswith(("Flex", "CUSTOM"))]


@pytest.fixture()
def zoo_server(tmp_path):
    """A folder of entries served over HTTP on 127.0.0.1: ``(base_url, folder)``."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    (served / "tiny").mkdir(parents=True)
    (served / "tiny" / "labels.txt").write_text("background\nthing\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def test_download_is_hash_checked_and_cached(zoo_server, tmp_path, monkeypatch):
    import hashlib

    url, served = zoo_server
    monkeypatch.setenv("KERASSEG_CACHE", str(tmp_path / "cache"))
    good = hashlib.sha256(b"background\nthing\n").hexdigest()
    path = zoo.download("tiny", "labels.txt", good, base_url=url)
    assert path == tmp_path / "cache" / "tiny" / "labels.txt"
    assert path.read_text() == "background\nthing\n"
    with pytest.raises(ValueError, match="SHA-256") as error:
        zoo.download("tiny", "labels.txt", "0" * 64, base_url=url)
    assert f"{url}/tiny/labels.txt" in str(error.value)
    assert [p.name for p in (tmp_path / "cache" / "tiny").iterdir()] == ["labels.txt"]  # no partial file left
    with pytest.raises(FileNotFoundError, match="could not download"):
        zoo.download("tiny", "model.keras", good, base_url=url)


def test_missing_export_is_downloaded_from_the_index(zoo_server, tmp_path, monkeypatch):
    """An entry installed without its exports (as from a wheel) fetches them from KERASSEG_ZOO_URL."""
    import shutil

    url, served = zoo_server
    installed = tmp_path / "installed"
    (installed / "camvid-mobile").mkdir(parents=True)
    for file in ("model.keras", "labels.txt", "CARD.md"):
        shutil.copy(ZOO / "camvid-mobile" / file, installed / "camvid-mobile" / file)
    shutil.copy(ZOO / "index.json", installed / "index.json")
    (served / "camvid-mobile").mkdir()
    shutil.copy(ZOO / "camvid-mobile" / "model_int8.tflite", served / "camvid-mobile")
    monkeypatch.setattr(zoo, "_roots", lambda root=None: [installed, tmp_path / "cache"])
    monkeypatch.setattr(zoo, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("KERASSEG_ZOO_URL", raising=False)
    with pytest.raises(FileNotFoundError, match="KERASSEG_ZOO_URL"):
        zoo.entry_file("camvid-mobile", "int8")
    monkeypatch.setenv("KERASSEG_ZOO_URL", url)
    path = zoo.entry_file("camvid-mobile", "int8")
    assert path == tmp_path / "cache" / "camvid-mobile" / "model_int8.tflite"
    assert path.read_bytes() == (ZOO / "camvid-mobile" / "model_int8.tflite").read_bytes()
    assert zoo.entry_file("camvid-mobile", "keras") == installed / "camvid-mobile" / "model.keras"


def test_index_lists_every_committed_file():
    import hashlib

    listed = zoo.index(ZOO)
    for name in entries():
        files = {p.name for p in (ZOO / name).iterdir()}
        assert set(listed[name]) == files
        for file, digest in listed[name].items():
            assert hashlib.sha256((ZOO / name / file).read_bytes()).hexdigest() == digest, f"{name}/{file}"


def test_an_editable_install_finds_the_clones_entries_without_kerasseg_zoo(tmp_path):
    """``pip install -e .`` (README's commands) maps ``kerasseg.zoo_models`` to ``saved_models/``: a fresh process
    outside the clone, without ``KERASSEG_ZOO``, lists this checkout's entries."""
    import ast
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("KERASSEG_ZOO", "PYTHONPATH")}
    env["KERASSEG_CACHE"] = str(tmp_path / "cache")
    code = "import kerasseg.zoo as z, kerasseg; print(kerasseg.__file__); print(sorted(z.list_entries()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    installed, entries = out.stdout.strip().splitlines()[-2:]
    if not Path(installed).resolve().is_relative_to(REPO):
        pytest.skip(f"kerasseg is installed from another checkout ({installed}); CI installs this one")
    assert ast.literal_eval(entries) == sorted(entries_committed())


def entries_committed() -> list[str]:
    return [p.name for p in ZOO.iterdir() if (p / "model.keras").is_file()]
