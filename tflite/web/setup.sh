#!/usr/bin/env bash
# Installs what the web demo and its headless test need, idempotently and quietly (tools/setup-tests.sh runs it):
#   - Debian: chromium (check_page.mjs drives it headless), node and npm when missing;
#   - npm, here: @mediapipe/tasks-vision (the demo's runtime, WASM served locally) and puppeteer-core (drives
#     chromium), pinned by package-lock.json; PUPPETEER_SKIP_DOWNLOAD because chromium comes from Debian.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/@mediapipe/tasks-vision/vision_bundle.mjs ] || [ ! -d node_modules/puppeteer-core ]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
