"""The Colab notebooks run top to bottom with their small CI settings, install as a Colab user's would, and are
stored without outputs.

Each notebook is executed by nbclient in a ``python3`` kernel with the working directory ``notebooks/`` and
``KERASSEG_NOTEBOOK_CI=1`` (small inputs, weights=None, a few steps; see each notebook's parameters cell). As in
a fresh Colab runtime, the notebooks read no ``../shared``: CamVid reaches them through their own download
(``kerasseg.data.camvid.download``), pointed by ``KERASSEG_CAMVID_URL`` at a ``file://`` URL of
``../shared/data/camvid``. The notebooks assert their own claims (656 vs 4608 parameters, receptive fields, Sobel
separability, export parity, metadata read back, disjoint calibration and check images), so a failing assertion
fails the test. ``KERASSEG_NOTEBOOK_OUT`` sends what they write to a temporary folder.

The install cell is run on its own in a kernel where kerasseg is not importable: from a wheel of this checkout
(pip told by its environment to install into a temporary folder, without dependencies or an index), and from a
source that does not exist, where it must stop the notebook with its message.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from scripts import load_script

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
CAMVID = REPO.parent / "shared" / "data" / "camvid"
NOTEBOOKS = [
    "01_convolution_types.ipynb",
    "02_train_pspnet.ipynb",
    "03_architectures_tour.ipynb",
    "04_export_to_android.ipynb",
]
CELL_TIMEOUT_S = 300
# A first cell that makes kerasseg unimportable, as in a fresh Colab runtime: the editable install's finder and
# every path entry holding a kerasseg package go.
HIDE_KERASSEG = """
import os, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__ + repr(f)]
sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "kerasseg"))]
for name in [m for m in sys.modules if m == "kerasseg" or m.startswith("kerasseg.")]:
    del sys.modules[name]
"""


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def sync():
    return load_script("docs/sync.py")


def install_cell(name: str) -> str:
    return next(cell.source for cell in read(name).cells if cell.cell_type == "code")


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
    assert links == [sync().colab_url(name)], f"{name}: the Colab badge must open this notebook"
    install = code_cells[0].source
    assert len(re.findall(r"^KERASSEG_SOURCE = ", install, re.MULTILINE)) == 1, f"{name}: not one KERASSEG_SOURCE"
    assert sync().install_source() in install
    assert 'find_spec("kerasseg") is None' in install and "%pip install" in install
    assert install.index("%pip install") < install.index("import kerasseg") < install.rindex("raise RuntimeError")
    assert "KERASSEG_NOTEBOOK_CI" in install
    assert any("KERASSEG_NOTEBOOK_CI" in cell.source and "if CI" in cell.source for cell in code_cells[1:]), (
        f"{name}: no parameters cell switching on KERASSEG_NOTEBOOK_CI"
    )
    assert "../shared" not in "".join(cell.source for cell in code_cells), f"{name} reads ../shared (no Colab has it)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_says_what_it_shows_how_long_it_takes_and_ends_with_next_steps(name):
    nb = read(name)
    opening, last = nb.cells[0].source, nb.cells[-1]
    assert re.search(r"\*\*What you will (see|get)\*\*", opening), f"{name}: no opening 'What you will see'"
    assert "| CPU (2 cores) | T4 GPU | TPU |" in opening, f"{name}: no runtime table (CPU, T4, TPU)"
    assert "TBD" not in opening, f"{name}: a runtime is still TBD"
    assert last.cell_type == "markdown" and "## Summary and next steps" in last.source and "Next" in last.source
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(r"\b(overlay|colorize)\(", cell.source):
            assert "legend" in cell.source, f"{name}: a mask figure without a class-colour legend:\n{cell.source}"


@pytest.mark.slow
def test_install_cells_differ_only_in_what_they_install():
    def template(source):
        source = re.sub(r'"kerasseg(\[[a-z,]*\])? @ ', '"kerasseg[…] @ ', source)
        return re.sub(r"\n    # MediaPipe runs.*\n    %pip install -q mediapipe==[0-9.]+", "", source)

    cells = {name: install_cell(name) for name in NOTEBOOKS}
    assert len({template(source) for source in cells.values()}) == 1, "the install cells have drifted apart"
    assert '"kerasseg @ ' in cells["01_convolution_types.ipynb"]  # no extra that 01 and 03 do not use
    assert '"kerasseg @ ' in cells["03_architectures_tour.ipynb"]
    assert '"kerasseg[data,export] @ ' in cells["04_export_to_android.ipynb"]


def _run(cells: list[str], tmp_path: Path, monkeypatch, env: dict[str, str] | None = None):
    from nbclient import NotebookClient

    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.outputs)


@pytest.mark.slow
def test_install_cell_installs_kerasseg_from_a_wheel(tmp_path, monkeypatch):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("kerasseg-*.whl")
    cell = install_cell("01_convolution_types.ipynb").replace(sync().install_source(), f'KERASSEG_SOURCE = "{wheel.as_uri()}"')
    monkeypatch.delenv("KERASSEG_NOTEBOOK_CI", raising=False)
    env = {"PIP_TARGET": str(target), "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PYTHONPATH": str(target)}
    output = _run([HIDE_KERASSEG, cell], tmp_path, monkeypatch, env)
    assert f"kerasseg 0.1.0 from {target / 'kerasseg'}" in output
    assert (target / "kerasseg" / "zoo_models" / "camvid-mobile" / "model.keras").is_file()


@pytest.mark.slow
def test_install_cell_stops_the_notebook_when_the_install_fails(tmp_path, monkeypatch):
    from nbclient.exceptions import CellExecutionError

    missing = (tmp_path / "kerasseg-0.1.0-py3-none-any.whl").as_uri()
    cell = install_cell("04_export_to_android.ipynb").replace(sync().install_source(), f'KERASSEG_SOURCE = "{missing}"')
    cell = cell.replace("%pip install -q mediapipe==", "# %pip install -q mediapipe==")  # no index here
    monkeypatch.delenv("KERASSEG_NOTEBOOK_CI", raising=False)
    with pytest.raises(CellExecutionError, match=r"kerasseg did not install from KERASSEG_SOURCE = .*kerasseg-0\.1\.0"):
        _run([HIDE_KERASSEG, cell, "print('the notebook went on')"], tmp_path, monkeypatch, {"PIP_NO_INDEX": "1"})


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_with_ci_settings(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    if not CAMVID.is_dir():
        pytest.skip(f"{CAMVID} (the project's shared data) is not present on this machine")
    monkeypatch.setenv("KERASSEG_NOTEBOOK_CI", "1")
    monkeypatch.setenv("KERASSEG_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("KERASSEG_CAMVID_URL", CAMVID.as_uri())
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
    assert (tmp_path / "data" / "camvid").is_dir(), f"{name} did not download its CamVid frames"
    assert sorted(NOTEBOOK_DIR.rglob("*")) == before, (
        f"{name} wrote into notebooks/ instead of KERASSEG_NOTEBOOK_OUT"
    )
