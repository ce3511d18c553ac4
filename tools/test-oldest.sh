#!/usr/bin/env bash
# The fast tier on the oldest versions setup.py claims, in a second virtualenv. CI runs it after README's test
# command (.ci/run); run it after changing a version bound in setup.py or constraints-oldest.txt.
#   - the virtualenv: $OLDEST_VENV (default build/venv-oldest, ignored by git), created once and kept;
#   - kerasseg, editable, with the extras the tests use, every package pinned by constraints-oldest.txt (the lower
#     bounds of setup.py's ranges), then `pip check`;
#   - the fast tier, `python -m pytest -n 2` there (arguments are passed on: `--slow`, a test id, ...).
# PYTHON picks the interpreter the virtualenv is made from (default: python3). ~10 minutes on 2 cores the first
# time (the install), ~5 after.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${OLDEST_VENV:-build/venv-oldest}"
export NO_ALBUMENTATIONS_UPDATE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# pip itself is not a requirement of kerasseg: the venv's own is upgraded so that it can read every wheel's metadata.
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints-oldest.txt -e ".[cpu,data,export,crf,dev]" mediapipe
"$VENV/bin/python" -m pip check
"$VENV/bin/python" - <<'EOF'
from importlib.metadata import version
import sys
names = ["tensorflow-cpu", "keras", "numpy", "h5py", "ai-edge-litert", "flatbuffers", "pillow", "matplotlib",
         "albumentations", "tensorflow-datasets", "tf2onnx", "onnx", "onnxruntime", "mediapipe"]
print(f"oldest: Python {sys.version.split()[0]}, " + ", ".join(f"{n} {version(n)}" for n in names))
EOF
# Deselected here: the exporter's bytes are pinned as TensorFlow 2.21.0's converter writes them (test_workflow.py).
"$VENV/bin/python" -m pytest -n 2 \
  --deselect "tests/export/test_workflow.py::test_exported_bytes_are_those_of_the_previous_exporter" "$@"
