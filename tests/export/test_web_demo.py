"""The web demo (tflite/web) in headless Chromium with MediaPipe Tasks Vision: a still image, and the live camera
(Chromium's fake capture device playing a video of the test stripes) on the CPU and GPU delegates.

Needs Debian's chromium, node, and the demo's npm packages: ``tools/setup-tests.sh`` installs them (CI runs it);
each test skips, saying which is missing, without them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from export_helpers import COLOUR_LABELS, SETUP, interior, stripes_image
from PIL import Image

pytestmark = pytest.mark.slow  # headless Chromium: the slow tier (--slow)

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "tflite" / "web"
sys.path.insert(0, str(REPO))  # tflite/ is an app folder beside the package
from tflite.runner import overlay, palette  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} ({SETUP} installs it, or set $CHROMIUM)"
    if shutil.which("node") is None:
        return f"no node on PATH ({SETUP} installs it)"
    for package, file in (
        ("@mediapipe/tasks-vision", "vision_bundle.mjs"),
        ("puppeteer-core", "package.json"),
    ):
        if not (WEB / "node_modules" / package / file).is_file():
            return f"tflite/web/node_modules lacks {package} ({SETUP} installs it)"
    return None


@pytest.fixture()
def served(tmp_path):
    """The demo page, its node_modules, and the test files under one local URL (127.0.0.1 only)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    for name in ("index.html", "app.mjs", "node_modules"):
        os.symlink(WEB / name, tmp_path / name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def open_page(
    url: str, fake_video: Path | None = None, uploads: tuple[str, ...] = (), timeout_ms: int = 90000
) -> dict:
    """Runs check_page.mjs on ``url`` (then picks each ``"#input-id=path"`` of ``uploads``); returns what the page
    reported."""
    command = ["node", str(WEB / "check_page.mjs"), url, str(timeout_ms), str(fake_video or ""), *uploads]
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout_ms / 1000 + 60, cwd=WEB)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> None:
    """RGB uint8 frames as a YUV 4:2:0 video (BT.601, full range): the format of Chromium's fake camera file."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            r, g, b = (frame[..., k].astype(np.float64) for k in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            planes = [y] + [p.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)) for p in (u, v)]
            f.write(b"FRAME\n")
            for plane in planes:
                f.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_browser_segments_the_stripes(served, colour_exports, mode):
    folder, url = served
    shutil.copy(colour_exports[mode], folder / "model.tflite")
    image, expected = stripes_image(72, 100)
    Image.fromarray(image).save(folder / "stripes.png")
    page = open_page(f"{url}/index.html?model=model.tflite&image=stripes.png")
    assert page["title"] == "done", page
    result = page["result"]
    assert (result["height"], result["width"]) == expected.shape  # MediaPipe returns the image's size
    mask = np.array(result["mask"], np.int64).reshape(expected.shape)
    keep = interior(expected)
    np.testing.assert_array_equal(mask[keep], expected[keep])
    assert result["labels"] == COLOUR_LABELS
    # What the page draws is what the desktop runner draws: VOC colours at half opacity, class 0 not drawn.
    canvas = page["canvas"]
    drawn = np.array(canvas["rgba"], np.int64).reshape(canvas["height"], canvas["width"], 4)[..., :3]
    expected_overlay = overlay(image, mask, palette(len(COLOUR_LABELS))).astype(np.int64)
    assert np.abs(drawn - expected_overlay).max() <= 1  # rounding of the blend
    assert (drawn[mask == 0] == image[mask == 0]).all()


def test_a_model_that_fails_to_load_is_reported_and_the_old_one_kept(served, colour_exports, tmp_path):
    folder, url = served
    shutil.copy(colour_exports["float32"], folder / "model.tflite")
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    image, expected = stripes_image(72, 100)
    Image.fromarray(image).save(tmp_path / "stripes.png")
    page = open_page(
        f"{url}/index.html?model=model.tflite",
        uploads=(f"#model-file={tmp_path / 'broken.tflite'}", f"#image-file={tmp_path / 'stripes.png'}"),
    )
    failed, segmented = page["steps"]
    assert failed["title"].startswith("error: cannot load the chosen file with the CPU delegate"), failed
    assert failed["error"] and failed["result"] is None
    assert segmented["title"] == "done", segmented  # segmented with the model loaded before
    mask = np.array(segmented["result"]["mask"], np.int64).reshape(expected.shape)
    np.testing.assert_array_equal(mask[interior(expected)], expected[interior(expected)])


def test_missing_model_is_shown_on_the_page(served):
    _, url = served
    page = open_page(f"{url}/index.html?model=absent.tflite")
    assert page["title"].startswith("error: cannot load absent.tflite"), page["title"]
    assert "absent.tflite" in page["error"]


@pytest.mark.parametrize("delegate", ["CPU", "GPU"])
def test_camera_frames_are_segmented_live(served, colour_exports, tmp_path, delegate):
    """The camera mode segments frame after frame with segmentForVideo and reports a frame rate."""
    folder, url = served
    shutil.copy(colour_exports["float32"], folder / "model.tflite")
    image, expected = stripes_image(120, 160)
    write_y4m(tmp_path / "camera.y4m", [image] * 10)
    frames = 8
    page = open_page(
        f"{url}/index.html?model=model.tflite&camera=1&frames={frames}&delegate={delegate}",
        tmp_path / "camera.y4m",
    )
    assert page["title"] == "done", page
    camera = page["camera"]
    assert camera["frames"] >= frames and camera["delegate"] == delegate
    assert camera["fps"] > 0 and " fps · " in page["fps"], page["fps"]
    assert (camera["height"], camera["width"]) == expected.shape  # the camera's frame size, not the model's
    mask = np.array(camera["mask"], np.int64).reshape(expected.shape)
    keep = interior(expected)
    np.testing.assert_array_equal(mask[keep], expected[keep])
    assert camera["labels"] == COLOUR_LABELS and camera["present"] == [0, 1, 2, 3]
    assert page["error"] == ""
