"""The wheel a user installs: the package, the zoo's Keras models, labels, cards and index, no repository scripts."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_carries_the_zoo_models_and_stays_small(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("kerasseg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    zoo = sorted(p.name for p in (REPO / "saved_models").iterdir() if (p / "model.keras").is_file())
    for entry in zoo:
        for file in ("model.keras", "labels.txt", "CARD.md"):
            assert f"kerasseg/zoo_models/{entry}/{file}" in names
        assert f"kerasseg/zoo_models/{entry}/model_int8.tflite" not in names  # downloaded on demand
    assert "kerasseg/zoo_models/index.json" in names
    assert not [n for n in names if n.startswith("kerasseg/zoo_models/") and n.endswith(".py")]
    assert "kerasseg/export/schemas/metadata_schema_generated.py" in names
    assert wheel.stat().st_size < 20e6
    assert "kerasseg_cli/__init__.py" in names  # the program, importable without the models (issue 24)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: keras") for r in requires)
    assert not [r for r in requires if "==" in r.split(";")[0]], requires  # ranges here; constraints.txt pins
