"""The command line: every subcommand is listed, every registered architecture is shown, errors are readable."""

import subprocess
import sys

from kerasseg.cli import main
from kerasseg.models import list_models

SUBCOMMANDS = ("demo", "train", "evaluate", "predict", "export", "check-data", "benchmark", "models")


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "kerasseg", "--help"], capture_output=True, text=True, check=True)
    for command in SUBCOMMANDS:
        assert command in out.stdout


def test_models_lists_every_registered_architecture(capsys):
    assert main(["models", "--no-params"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    assert "Ronneberger" in out and "Zhao" in out  # the papers are named


def test_models_counts_parameters(capsys):
    assert main(["models", "--classes", "2", "--only", "unet"]) == 0
    # The same-padded U-Net has the paper's layers (31,030,658 weights on one input channel) on RGB input.
    assert f"{31_030_658 + 2 * 3 * 3 * 64:,}" in capsys.readouterr().out
