"""The Colab notebooks run top to bottom with their small CI settings, and are stored without outputs.

Each notebook is executed by nbclient in a ``python3`` kernel with the working directory ``notebooks/`` and
``KERASSEG_NOTEBOOK_CI=1`` (small inputs, weights=None, a few steps; see each notebook's parameters cell). The
notebooks assert their own claims (656 vs 4608 parameters, receptive fields, Sobel separability, export parity),
so a failing assertion fails the test. ``KERASSEG_NOTEBOOK_OUT`` sends what they write to a temporary folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SHARED = REPO.parent / "shared"
NOTEBOOKS = [
    "01_convolution_types.ipynb",
    "02_train_pspnet.ipynb",
    "03_architectures_tour.ipynb",
    "04_export_to_android.ipynb",
]
NEEDS_SHARED = {"02_train_pspnet.ipynb": SHARED / "data" / "camvid"}  # CamVid frames (CI always has them)
CELL_TIMEOUT_S = 300
COLAB_URL = "https://colab.research.google.com/github/kerasseg/kerasseg/blob/main/notebooks/{}"


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stripped_and_starts_with_badge_and_install(name):
    nb = read(name)
    nbformat.validate(nb)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code_cells:
        assert cell.outputs == [], f"{name}: a code cell keeps its outputs"
        assert cell.execution_count is None, f"{name}: a code cell keeps its execution count"
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    links = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", first.source)
    assert links == [COLAB_URL.format(name)], f"{name}: the Colab badge must open this notebook"
    install = code_cells[0].source
    assert 'find_spec("kerasseg") is None' in install and "%pip install" in install
    assert "KERASSEG_NOTEBOOK_CI" in install
    assert any("KERASSEG_NOTEBOOK_CI" in cell.source and "if CI" in cell.source for cell in code_cells[1:]), (
        f"{name}: no parameters cell switching on KERASSEG_NOTEBOOK_CI"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_with_ci_settings(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    needed = NEEDS_SHARED.get(name)
    if needed is not None and not needed.is_dir():
        pytest.skip(f"{needed} (the project's shared data) is not present on this machine")
    monkeypatch.setenv("KERASSEG_NOTEBOOK_CI", "1")
    monkeypatch.setenv("KERASSEG_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("NO_ALBUMENTATIONS_UPDATE", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    before = sorted(NOTEBOOK_DIR.rglob("*"))
    nb = read(name)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    start = time.time()
    client.execute()  # raises CellExecutionError, naming the cell, when a cell fails
    print(f"{name}: {time.time() - start:.1f} s")

    figures = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert figures >= 1, f"{name} drew no figure"
    assert sorted(NOTEBOOK_DIR.rglob("*")) == before, (
        f"{name} wrote into notebooks/ instead of KERASSEG_NOTEBOOK_OUT"
    )
