"""The web demo (tflite/web) segments a known image in headless Chromium with MediaPipe Tasks Vision.

Needs node, Debian's chromium and the demo's npm packages: ``tools/setup-tests.sh`` installs them (CI runs it).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from export_helpers import COLOUR_LABELS, SETUP, interior, stripes_image
from PIL import Image

WEB = Path(__file__).resolve().parents[2] / "tflite" / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # where check_page.mjs looks
MISSING = [
    what
    for what, present in (
        ("node", shutil.which("node")),
        (f"chromium ({CHROMIUM})", CHROMIUM.is_file()),
        ("the npm package @mediapipe/tasks-vision", (WEB / "node_modules/@mediapipe/tasks-vision").is_dir()),
        ("the npm package puppeteer-core", (WEB / "node_modules/puppeteer-core").is_dir()),
    )
    if not present
]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)}: {SETUP} installs them")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def served(tmp_path):
    """The demo page, its node_modules, and the test files under one local URL (127.0.0.1 only)."""
    for name in ("index.html", "app.mjs", "node_modules"):
        os.symlink(WEB / name, tmp_path / name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_browser_segments_the_stripes(served, colour_exports, mode):
    folder, url = served
    shutil.copy(colour_exports[mode], folder / "model.tflite")
    image, expected = stripes_image(72, 100)
    Image.fromarray(image).save(folder / "stripes.png")
    out = subprocess.run(
        ["node", str(WEB / "check_page.mjs"), f"{url}/index.html?model=model.tflite&image=stripes.png", "90000"],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=WEB,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    page = json.loads(out.stdout.strip().splitlines()[-1])
    assert page["title"] == "done", page
    result = page["result"]
    assert (result["height"], result["width"]) == expected.shape  # MediaPipe returns the image's size
    mask = np.array(result["mask"], np.int64).reshape(expected.shape)
    keep = interior(expected)
    np.testing.assert_array_equal(mask[keep], expected[keep])
    assert result["labels"] == COLOUR_LABELS
