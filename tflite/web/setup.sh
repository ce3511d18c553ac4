#!/usr/bin/env bash
# Installs what kerasseg's export tests need beyond setup.py, idempotently and quietly:
#   - Debian: chromium (the web-demo test drives it headless), libusb-1.0-0 (tflite-support's metadata library
#     links it);
#   - npm, in tflite/web: @mediapipe/tasks-vision (the demo's runtime, WASM served locally) and puppeteer-core
#     (drives chromium), pinned by package-lock.json;
#   - pip, --no-deps: tflite-support (MediaPipe metadata writer; its pins would downgrade protobuf) and
#     mediapipe (its opencv-contrib-python dependency would replace the cv2 of opencv-python-headless).
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s libusb-1.0-0 >/dev/null 2>&1 || missing+=(libusb-1.0-0)
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/@mediapipe/tasks-vision/vision_bundle.mjs ] || [ ! -d node_modules/puppeteer-core ]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

PYTHON="${PYTHON:-python3}"
has() { "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }
has tensorflow_lite_support || "$PYTHON" -m pip install -q --no-deps tflite-support==0.4.4
has mediapipe || "$PYTHON" -m pip install -q --no-deps mediapipe==1.2.3 sounddevice==0.5.6
