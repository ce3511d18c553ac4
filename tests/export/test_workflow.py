"""``export_checked``: one prepared model through every entry point, the mode into the report, and a report that
names the file it describes (issues #12 and #14)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from export_helpers import colour_segmenter, stripes_image
from PIL import Image

from kerasseg.export import read_report, to_tflite, to_tflite_modes
from kerasseg.export.check_data import load_check_data
from kerasseg.export.flatbuffer import contract_names
from kerasseg.export.workflow import export_checked


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    image, _ = stripes_image(64, 64)
    for i in range(4):
        Image.fromarray(np.roll(image, 11 * i, axis=1)).save(folder / f"{i}.png")
    return folder


@pytest.mark.slow
def test_every_entry_point_writes_the_same_bytes(frames, tmp_path):
    """``to_tflite``, ``to_tflite_modes`` and ``export_checked`` are one conversion path: equal files per mode."""
    model = colour_segmenter()
    calibration = load_check_data(str(frames), (64, 64), limit=2).images
    modes = to_tflite_modes(model, str(tmp_path), ("float32", "int8"), calibration)
    for mode, path in modes.items():
        single = to_tflite(model, str(tmp_path / f"single_{mode}.tflite"), mode, calibration)
        checked = str(tmp_path / f"checked_{mode}.tflite")
        export_checked(model, checked, quantization=mode, calibration=str(frames), limit=2)
        digests = {hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (path, single, checked)}
        assert len(digests) == 1, mode


# sha256 of the colour segmenter's exports without metadata, written by the exporter before the one-pass redesign
# (commit 7099736): the redesign must not change a byte. Since then only the output tensor's name changed, from the
# converter's "Identity" to the contract's "logits": named back, the bytes are the same.
PINNED = {
    "float32": "c6ec5bcd12eea11da5415e84f1de1b101a71e6784629d63567df2ddd86409ed1",
    "float16": "624facff7f1f19a8a17577e7bf3d622b0189ed97c0cfe7d094e0a05da43960cf",
}


@pytest.mark.parametrize("mode", sorted(PINNED))
def test_exported_bytes_are_those_of_the_previous_exporter(mode, tmp_path):
    path = to_tflite(colour_segmenter(), str(tmp_path / "m.tflite"), mode, metadata=False)
    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() != PINNED[mode]
    assert hashlib.sha256(contract_names(data, "image", "Identity")).hexdigest() == PINNED[mode]


def test_the_same_model_gives_the_same_file_at_any_time(tmp_path, monkeypatch):
    """The label file's zip entry carries no clock time stamp (it made every export with metadata unique)."""
    import time

    model = colour_segmenter()
    first = to_tflite(model, str(tmp_path / "a.tflite"))
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)  # 2033
    second = to_tflite(model, str(tmp_path / "b.tflite"))
    assert open(first, "rb").read() == open(second, "rb").read()


def test_the_report_says_the_mode_the_file_was_exported_in(tmp_path):
    """The colour segmenter's 16 weights stay float in a dynamic-range file: its tensors look like float32."""
    out = tmp_path / "m.tflite"
    report = export_checked(colour_segmenter(), str(out), quantization="dynamic", metadata=False)
    assert report["quantization"] == "dynamic" and report["criterion"] == "argmax agreement ≥ 95%"
    assert json.loads((tmp_path / "m.parity.json").read_text())["quantization"] == "dynamic"


def test_a_report_of_another_export_is_refused(tmp_path):
    out = tmp_path / "m.tflite"
    report = export_checked(colour_segmenter(), str(out), metadata=False, verbose=True)
    assert report["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert read_report(str(out))["sha256"] == report["sha256"]
    out.write_bytes(out.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="m.parity.json is stale"):
        read_report(str(out))
    assert read_report(str(tmp_path / "none.tflite")) is None


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_the_model_is_prepared_once(fmt, tmp_path, monkeypatch):
    """Conversion and parity check trust the prepared model: one inference graph, one size, per export."""
    from kerasseg.export import preparation

    calls = []
    original = preparation.inference_model
    monkeypatch.setattr(preparation, "inference_model", lambda model: calls.append(model.name) or original(model))
    export_checked(colour_segmenter(), str(tmp_path / f"m.{fmt}"), fmt, metadata=False)
    assert calls == ["colour_segmenter"]
