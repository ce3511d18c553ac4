#!/usr/bin/env bash
# Installs everything kerasseg's tests need, on a fresh clone, idempotently and quietly. CI runs it first.
#   - pip: kerasseg, editable, with every extra the tests use, at the exact versions CI runs (constraints.txt;
#     setup.py states ranges, tools/test-oldest.sh runs their lower ends);
#   - pip: mediapipe (the MediaPipe Tasks tests), version and requirements from constraints.txt (its
#     opencv-contrib-python provides the cv2 that albumentations uses too; the tests pass with it);
#   - tflite/web/setup.sh: Debian's chromium and the web demo's npm packages (the headless-browser test).
# PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

"$PYTHON" -m pip install -q -c constraints.txt -e ".[cpu,data,export,crf,dev]" mediapipe
bash tflite/web/setup.sh
