"""The hand locator in the live and kiosk pages, in headless Chromium with a fake camera.

The camera plays a real webcam photo of a signing hand (read from the photo folder at test
time, never stored in the repo), or a hand-free picture. The server serves the tiny test model
marked `"crop": "hand"`, so the boxes the page sends are really cropped around.
"""

from __future__ import annotations

import numpy as np
import pytest
from chromium import DESKTOP, chromium, open_page, playwright, wait_connected_and_running
from rooms import camera_frame
from y4m import HEIGHT, WIDTH, background, write_y4m

from webapp import config, create_app

pytestmark = [pytest.mark.browser]

# A raw-webcam photo: one hand (the letter B) at the left of the frame, a face in the middle.
HAND_PHOTO = ("B", "kynmiiso_1.jpg")
# Where that hand lies in the 640x480 camera frame (by eye, generous): the box must fall in it.
HAND_REGION = (40, 140, 230, 460)  # x0, y0, x1, y1
LOCATOR_TIMEOUT_MS = 60_000  # WASM compile + model load on a busy 2-core machine
LOCATOR_SETTLED = "() => ['on', 'failed', 'off'].includes(document.body.dataset.handLocator)"


@pytest.fixture(scope="module")
def pw():
    with playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def hand_video(tmp_path_factory):
    path = config.photos_dir() / HAND_PHOTO[0] / HAND_PHOTO[1]
    if not path.exists():
        pytest.skip(f"{path} is missing (the photo folder is ../shared/photos or $SIGNLIVE_PHOTOS)")
    frame = camera_frame(path)  # in color, as a webcam shows it
    return write_y4m(tmp_path_factory.mktemp("video") / "hand.y4m", [frame] * 10)


@pytest.fixture(scope="module")
def empty_video(tmp_path_factory):
    """No hand: a plain wall with a soft gradient."""
    ramp = np.linspace(50, 110, WIDTH, dtype=np.float32)[None, :]
    frame = (background(0).astype(np.float32) + ramp).astype(np.uint8)
    return write_y4m(tmp_path_factory.mktemp("video") / "empty.y4m", [frame] * 10)


@pytest.fixture(scope="module")
def server(hand_server):
    return hand_server


@pytest.fixture(scope="module")
def hand_browser(pw, hand_video):
    with chromium(pw, hand_video) as browser:
        yield browser


def _open(browser, url: str):
    page = open_page(browser, url, DESKTOP)
    page.warnings = []
    page.on("console", lambda msg: msg.type == "warning" and "signlive" in msg.text
            and page.warnings.append(msg.text))
    page.csp = []
    page.on("console", lambda msg: ("Content Security Policy" in msg.text
                                    or "Refused to" in msg.text) and page.csp.append(msg.text))
    return page


def _wait_locator(page, state: str = "on") -> None:
    page.wait_for_function(LOCATOR_SETTLED, timeout=LOCATOR_TIMEOUT_MS)
    assert page.get_attribute("body", "data-hand-locator") == state, page.warnings


SNAPSHOT = """() => {
  const box = document.getElementById('hand-box');
  const rect = (el) => { const r = el.getBoundingClientRect();
                         return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  return {box: box.dataset.frameBox, size: box.dataset.frameSize, hidden: box.hidden,
          drawn: rect(box), video: rect(document.getElementById('video'))};
}"""


def _snapshot(page) -> dict:
    """The box the page sent last ([x, y, w, h] in the encoded frame), that frame's size, and
    where the box and the video are on screen: read at once (the box follows every frame)."""
    snap = page.evaluate(SNAPSHOT)
    snap["box"] = [int(v) for v in snap["box"].split(",")]
    snap["size"] = tuple(int(v) for v in snap["size"].split("x"))
    return snap


def _expected_rect(snap: dict, mirrored: bool) -> dict:
    """Where the box must be drawn: object-fit contain, mirrored around the element's center
    (computed here, independently of geometry.js)."""
    el, box, size = snap["video"], snap["box"], snap["size"]
    kx, ky = WIDTH / size[0], HEIGHT / size[1]
    x, y, w, h = box[0] * kx, box[1] * ky, box[2] * kx, box[3] * ky
    scale = min(el["width"] / WIDTH, el["height"] / HEIGHT)
    ox = (el["width"] - WIDTH * scale) / 2
    oy = (el["height"] - HEIGHT * scale) / 2
    left = ox + x * scale
    if mirrored:
        left = el["width"] - left - w * scale
    return {"x": el["x"] + left, "y": el["y"] + oy + y * scale,
            "width": w * scale, "height": h * scale}


def _assert_drawn_at(snap: dict, mirrored: bool) -> None:
    expected = _expected_rect(snap, mirrored)
    for key in ("x", "y", "width", "height"):
        assert snap["drawn"][key] == pytest.approx(expected[key], abs=1.0), (key, snap, expected)


@pytest.mark.parametrize("path", ["/", "/kiosk"])
def test_the_page_finds_the_hand_sends_its_box_and_draws_it(server, hand_browser, path,
                                                           artifacts_dir):
    stats = server.state.inference.stats
    before = stats()
    page = _open(hand_browser, server.url + path)
    try:
        wait_connected_and_running(page)
        _wait_locator(page)
        page.wait_for_function("() => window.signlive.client.framesWithBox >= 5",
                               timeout=20_000)
        page.wait_for_function("() => !document.getElementById('hand-box').hidden",
                               timeout=5_000)
        snap = _snapshot(page)
        box, size = snap["box"], snap["size"]
        assert size == (480, 360)  # captureSize(640, 480) at max_side 480: the encoded frame
        kx, ky = WIDTH / size[0], HEIGHT / size[1]
        x0, y0, x1, y1 = HAND_REGION
        assert x0 <= box[0] * kx and (box[0] + box[2]) * kx <= x1, (box, HAND_REGION)
        assert y0 <= box[1] * ky and (box[1] + box[3]) * ky <= y1, (box, HAND_REGION)
        assert box[2] * kx >= 40 and box[3] * ky >= 80  # a hand, not a speck
        _assert_drawn_at(snap, mirrored=True)
        # The selfie view is mirrored: the hand, at the left of the camera frame, shows right.
        assert snap["drawn"]["x"] > snap["video"]["x"] + snap["video"]["width"] / 2
        if path == "/":
            page.screenshot(path=artifacts_dir / "live-hand-box.png")
            page.click("#mirror")  # unmirrored: the box moves with the picture
            snap = _snapshot(page)
            _assert_drawn_at(snap, mirrored=False)
            assert snap["drawn"]["x"] + snap["drawn"]["width"] < (
                snap["video"]["x"] + snap["video"]["width"] / 2)
            page.click("#mirror")
        # The server got the boxes and refused none; answers keep coming.
        after = stats()
        assert after["frames_with_box"] - before["frames_with_box"] >= 5
        # ... and the hand's landmarks with them, none refused.
        assert after["frames_with_landmarks"] - before["frames_with_landmarks"] >= 5
        assert "bad_landmarks" not in after["frames_rejected"]
        assert after["frames_rejected"].get("bad_box", 0) == before["frames_rejected"].get(
            "bad_box", 0)
        page.wait_for_function("n => window.signlive.client.stats.count >= n + 5",
                               arg=page.evaluate("() => window.signlive.client.stats.count"),
                               timeout=20_000)
        assert page.errors == [] and page.warnings == [] and page.csp == []
    finally:
        page.context.close()


def test_no_hand_no_box(server, pw, empty_video):
    with chromium(pw, empty_video) as browser:
        page = _open(browser, server.url + "/")
        wait_connected_and_running(page)
        _wait_locator(page)
        sent = page.evaluate("() => window.signlive.client.framesSent")
        page.wait_for_function("n => window.signlive.client.framesSent >= n + 10", arg=sent,
                               timeout=20_000)
        assert page.evaluate("() => window.signlive.client.framesWithBox") == 0
        assert page.locator("#hand-box").is_hidden()
        assert page.get_attribute("#hand-box", "data-frame-box") in (None, "")
        assert page.errors == [] and page.warnings == [] and page.csp == []


def test_a_locator_that_cannot_start_leaves_the_page_working(server, hand_browser):
    """The WASM cannot be fetched (blocked, offline): one warning, frames go on, no box."""
    context = hand_browser.new_context(viewport=DESKTOP)
    context.route("**/*.wasm", lambda route: route.abort())
    page = context.new_page()
    page.errors, page.warnings = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "warning" and "signlive" in msg.text
            and page.warnings.append(msg.text))
    try:
        page.goto(server.url + "/")
        wait_connected_and_running(page)
        _wait_locator(page, "failed")
        page.wait_for_function("() => window.signlive.client.stats.count >= 10",
                               timeout=20_000)
        assert page.evaluate("() => window.signlive.client.framesWithBox") == 0
        assert page.locator("#hand-box").is_hidden()
        assert len(page.warnings) == 1 and "hand locator cannot run" in page.warnings[0]
        assert page.errors == []
    finally:
        context.close()


def test_the_setting_turns_the_locator_off(serve_app, hand_models_dir, hand_browser,
                                           tmp_path_factory):
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test", "MODELS_DIR": str(hand_models_dir),
        "ACTIVE_MODEL": "hand", "CONFIDENCE_THRESHOLD": 0.0, "HAND_LOCATOR": 0,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))})
    server = serve_app(app)
    page = _open(hand_browser, server.url + "/kiosk")
    try:
        wait_connected_and_running(page)
        _wait_locator(page, "off")
        page.wait_for_function("() => window.signlive.client.stats.count >= 5",
                               timeout=20_000)
        assert page.evaluate("() => [typeof window.Hands, window.signlive.client.framesWithBox]"
                             ) == ["undefined", 0]
        assert page.locator("#hand-box").is_hidden()
        assert page.errors == [] and page.warnings == [] and page.csp == []
    finally:
        page.context.close()
