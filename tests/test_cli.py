"""The command line: every subcommand is listed, every registered architecture is shown, errors are readable."""

import subprocess
import sys

import pytest

from kerasseg.models import list_models
from kerasseg_cli import main

SUBCOMMANDS = ("demo", "train", "evaluate", "predict", "export", "check-data", "benchmark", "models", "weights")


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "kerasseg_cli", "--help"], capture_output=True, text=True, check=True)
    for command in SUBCOMMANDS:
        assert command in out.stdout


def test_help_models_and_weights_do_not_import_tensorflow():
    """``--help``, ``models`` and ``weights`` answer without loading TensorFlow (a tenth of a second, not five):
    the command line is its own package and reads ``kerasseg/facts.py`` without importing ``kerasseg``."""
    code = (
        "import sys, contextlib, io\n"
        "from kerasseg_cli import main\n"
        f"for argv in [[verb, '--help'] for verb in {SUBCOMMANDS!r}] + [['models'], ['weights']]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'kerasseg') if m in sys.modules), 'unet' in out.getvalue())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False"  # the last output is weights' table, which names no model


@pytest.mark.slow
def test_commands_are_quiet_by_default():
    """No TensorFlow/absl/oneDNN start-up lines on stderr unless --verbose (a command that loads TensorFlow)."""
    command = [sys.executable, "-m", "kerasseg_cli", "models", "--count", "--classes", "2", "--only", "unet"]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "unet" in out.stdout
    assert out.stderr == ""
    loud = subprocess.run([*command[:3], "--verbose", *command[3:]], capture_output=True, text=True, check=True)
    assert "oneDNN" in loud.stderr or "absl" in loud.stderr


def test_models_lists_every_registered_architecture(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    assert "Ronneberger" in out and "Zhao" in out  # the papers are named
    assert "29.5M" in out and "20.5M" in out  # SegNet's and DeepLab-LargeFOV's published parameter counts


@pytest.mark.slow
def test_models_counts_parameters(capsys):
    assert main(["models", "--count", "--classes", "2", "--only", "unet"]) == 0
    # The same-padded U-Net has the paper's layers (31,030,658 weights on one input channel) on RGB input.
    assert f"{31_030_658 + 2 * 3 * 3 * 64:,}" in capsys.readouterr().out


def test_weights_lists_files_and_checks_their_hashes(shared_dir, tmp_path, monkeypatch, capsys):
    import shutil

    shared = shared_dir / "weights"
    good = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    bad = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5"
    (tmp_path / "models").mkdir()
    shutil.copy(shared / good, tmp_path / "models" / good)
    (tmp_path / "models" / bad).write_bytes((shared / bad).read_bytes()[:-1000])  # a truncated download
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def statuses(argv):
        assert main(argv) == 0
        rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.endswith(".h5")]
        return {row[-1]: row[-2] for row in rows if len(row) > 2}

    missing = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert {k: v for k, v in statuses(["weights"]).items() if k in (good, bad, missing)} == {
        good: "present", bad: "present", missing: "missing"}  # no hash read: TensorFlow-free and instant
    assert {k: v for k, v in statuses(["weights", "--verify"]).items() if k in (good, bad, missing)} == {
        good: "ok", bad: "corrupt", missing: "missing"}


def test_library_parameters_are_shown_as_flags():
    from kerasseg_cli import flag_names

    assert flag_names("learning_rate must be a positive number, got 0") == "--lr must be a positive number, got 0"
    assert flag_names("r has already trained 2 epochs: pass epochs=N with N > 2 to train more, or restart=True "
                      "to start over") == ("r has already trained 2 epochs: pass --epochs N with N > 2 to train more, "
                                           "or --restart to start over")
    assert flag_names("skip with preflight=False; val=False for none") == "skip with --no-preflight; --val-split none for none"
    assert flag_names("crop_size (8, 8) is too small: give at least crop_size=(16, 16)") == (
        "--crop-size (8, 8) is too small: give at least --crop-size 16 16")
    assert flag_names("camvid has 11 classes; num_classes 12 disagrees") == "camvid has 11 classes; --classes 12 disagrees"
