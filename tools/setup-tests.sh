#!/usr/bin/env bash
# Installs everything kerasseg's tests need, on a fresh clone, idempotently and quietly. CI runs it first.
#   - pip: kerasseg, editable, with every extra the tests use;
#   - pip, --no-deps: mediapipe (the MediaPipe Tasks tests). It requires opencv-contrib-python, which would replace
#     the cv2 of albumentations' opencv-python-headless (the tests work with either); its other requirements come
#     with TensorFlow, except sounddevice, which only its audio tasks import;
#   - tflite/web/setup.sh: Debian's chromium and the web demo's npm packages (the headless-browser test).
# PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# --no-warn-conflicts: mediapipe's opencv-contrib-python is left out on purpose (above).
"$PYTHON" -m pip install -q --no-warn-conflicts -e ".[cpu,data,export,crf,dev]"
"$PYTHON" -c 'import importlib.metadata as m, sys; sys.exit(m.version("mediapipe") != "1.1.0")' 2>/dev/null ||
  "$PYTHON" -m pip install -q --no-warn-conflicts --no-deps mediapipe==1.1.0
bash tflite/web/setup.sh
