"""The live and kiosk pages in headless Chromium with a fake camera, against a real server
serving the tiny test model (no dependency on the shipped model): camera, guide square,
frames and answers, connection state, the transcript and word suggestions, and the
camera-denied message."""

from __future__ import annotations

import time

import numpy as np
import pytest
from chromium import (
    DESKTOP,
    PHONE,
    chromium,
    open_page,
    playwright,
    wait_connected_and_running,
)
from y4m import HEIGHT, WIDTH, background, spelling_video

from webapp.model.preprocess import guide_square

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A short clip: plain background, then a bright patterned square in the guide square."""
    rng = np.random.default_rng(0)
    sample = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    path = tmp_path_factory.mktemp("video") / "camera.y4m"
    return spelling_video(path, [sample], background(70), lead_s=0.5, hold_s=1.0, gap_s=0.5)


@pytest.fixture(scope="module")
def pw():
    with playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(pw, video):
    with chromium(pw, video) as b:
        yield b


def _contain_rect(video_box: dict, vw: int, vh: int, square) -> dict:
    """Where a frame-pixel square lands in an object-fit: contain element (independent of JS)."""
    scale = min(video_box["width"] / vw, video_box["height"] / vh)
    ox = video_box["x"] + (video_box["width"] - vw * scale) / 2
    oy = video_box["y"] + (video_box["height"] - vh * scale) / 2
    return {"x": ox + square.x * scale, "y": oy + square.y * scale,
            "width": square.side * scale, "height": square.side * scale}


def _assert_guide_matches(page) -> None:
    vw, vh = page.evaluate("() => [video.videoWidth, video.videoHeight]")
    assert (vw, vh) == (WIDTH, HEIGHT)
    crop = page.evaluate("() => JSON.parse(document.getElementById('signlive-config')"
                         ".textContent).crop_fraction")
    square = guide_square(vh, vw, crop)
    assert page.get_attribute("#guide", "data-frame-rect") == f"{square.x},{square.y},{square.side}"
    expected = _contain_rect(page.locator("#video").bounding_box(), vw, vh, square)
    drawn = page.locator("#guide").bounding_box()
    for key in ("x", "y", "width", "height"):
        assert drawn[key] == pytest.approx(expected[key], abs=1.0), (key, drawn, expected)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_live_page_streams_frames_and_draws_the_guide(live_server, browser, viewport,
                                                      artifacts_dir):
    page = open_page(browser, live_server.url + "/", viewport)
    wait_connected_and_running(page)
    # Frames go out one at a time and answers come back (threshold 0: always a letter).
    page.wait_for_function("() => window.signlive.client.stats.count >= 5", timeout=20_000)
    assert page.evaluate("() => window.signlive.client.framesSent") >= 5
    page.wait_for_function("() => /^[A-Y]$/.test(document.querySelector('.badge-letter')"
                           ".textContent)", timeout=10_000)
    assert page.text_content("#model-name") == "tiny"
    assert page.locator(".top3 .top-letter").all_text_contents()[0] in "ABCDEFGHIKLMNOPQRSTUVWXY"
    assert page.locator("#status .dot").evaluate(
        "el => getComputedStyle(el).backgroundColor") == "rgb(72, 213, 151)"  # green
    assert page.text_content("[data-role=rtt]").endswith(" ms")

    _assert_guide_matches(page)
    # Mirroring flips the video, not the (centered) square.
    before = page.locator("#guide").bounding_box()
    page.click("#mirror")
    assert page.get_attribute("#mirror", "aria-pressed") == "false"
    transform = page.locator("#video").evaluate("el => getComputedStyle(el).transform")
    assert not transform.startswith("matrix(-1")
    assert page.locator("#guide").bounding_box() == pytest.approx(before, abs=0.5)
    page.click("#mirror")
    assert page.locator("#video").evaluate(
        "el => getComputedStyle(el).transform").startswith("matrix(-1")

    # Transcript buttons (the speller's text is the single source; the view follows it).
    # Frames are paused meanwhile, so the only edits are the buttons' and the server's
    # answers given here (as the stream decoder sends them: committed letters, then the word
    # with its suggestions when the hand drops).
    page.evaluate("() => { window.signlive.client.pause(); const s = window.signlive.speller;"
                  " s.clear(); s.append('HI'); window.signlive.renderTranscript(); }")
    page.click("#btn-space")
    page.click("#btn-backspace")
    page.click("#btn-backspace")
    assert page.text_content("#transcript") == "H"
    page.click("#btn-clear")
    assert page.text_content("#transcript") == ""
    assert page.get_attribute("#transcript", "aria-live") == "polite"

    answer = ("(p) => window.signlive.onPrediction(Object.assign({id: 0, letter: null, "
              "confidence: 0, top: [], hand: true, committed: [], hold: 0}, p))")
    for letter in "HELO":
        page.evaluate(answer, {"committed": [letter], "letter": letter, "hold": 1})
    assert page.text_content("#transcript") == "HELO"
    assert page.is_hidden("#suggestions")
    page.evaluate(answer, {"hand": False, "word": {"spelled": "HELO", "suggestions": [
        "HELP", "HELLO", "HALO"]}})
    assert page.text_content("#transcript") == "HELO "  # the hand dropped: the word ended
    assert page.is_visible("#suggestions")
    assert page.locator("#suggestions [data-role=word]").all_text_contents() == [
        "HELP", "HELLO", "HALO"]
    page.screenshot(path=artifacts_dir / f"live-tiny-{viewport['width']}.png")
    page.keyboard.press("2")  # the second suggestion replaces the word, and ends it
    assert page.text_content("#transcript") == "HELLO "
    assert page.is_hidden("#suggestions")
    # An offer the transcript has moved past is withdrawn; what was spelled stays.
    page.evaluate(answer, {"committed": ["A"]})
    page.evaluate(answer, {"word": {"spelled": "A", "suggestions": ["I"]}})
    assert page.is_visible("#suggestions")
    page.evaluate(answer, {"committed": ["B"]})
    assert page.is_hidden("#suggestions")
    page.keyboard.press("1")
    assert page.text_content("#transcript") == "HELLO A B"
    # Two words spelled with the hand dropped between them: each is offered its suggestions
    # (the second is not run into the first).
    page.click("#btn-clear")
    for word, offers in (("HELO", ["HELLO"]), ("WRLD", ["WORLD"])):
        for letter in word:
            page.evaluate(answer, {"committed": [letter]})
        page.evaluate(answer, {"hand": False, "word": {"spelled": word, "suggestions": offers}})
        shown = page.locator("#suggestions [data-role=word]").all_text_contents()
        assert page.is_visible("#suggestions") and [w for w in shown if w] == offers
    page.keyboard.press("1")
    assert page.text_content("#transcript") == "HELO WORLD "
    page.click("#btn-clear")
    page.evaluate("() => window.signlive.client.resume()")

    # A dropped connection: socket.io reconnects by itself and the frame loop resumes.
    answered = page.evaluate("() => window.signlive.client.stats.count")
    page.evaluate("() => window.signlive.client.socket.io.engine.close()")
    page.wait_for_function("() => document.getElementById('status').dataset.state !== "
                           "'connected'", timeout=5_000)
    page.wait_for_function("n => window.signlive.client.connected && "
                           "window.signlive.client.stats.count >= n + 5", arg=answered,
                           timeout=20_000)
    assert page.get_attribute("#status", "data-state") == "connected"
    assert page.errors == []


# Logs the frame loop: each grab (with the frame in flight then, if any), each frame sent and
# each answer, in the order the page saw them.
TRACE_LOOP = """
(overlap) => {
  const c = window.signlive.client;
  c.overlap = overlap;
  const log = [];
  window.__loop = log;
  const grab = c.grab;
  c.grab = () => { log.push(["grab", c.inFlight ? c.inFlight.id : null]); return grab(); };
  const emit = c.socket.emit.bind(c.socket);
  c.socket.emit = (event, msg, ...rest) => {
    if (event === "frame") log.push(["send", msg.id]);
    return emit(event, msg, ...rest);
  };
  const answered = c.answered.bind(c);
  c.answered = (msg, handler) => { log.push(["answer", msg && msg.id]); answered(msg, handler); };
}
"""


@pytest.mark.parametrize("overlap", [True, False], ids=["overlap", "in-turn"])
def test_the_next_frame_is_grabbed_while_the_last_is_read_one_in_flight(live_server, browser,
                                                                        overlap):
    """With overlap (the default) the page finds the hand in the next frame while the server
    reads the last, yet never sends a frame before the last one's answer (the contract: one
    frame in flight per client); in turn, it grabs only between an answer and the next send."""
    page = open_page(browser, live_server.url + "/")
    wait_connected_and_running(page)
    assert page.evaluate("() => window.signlive.client.overlap") is True  # the page setting
    page.wait_for_function("() => window.signlive.client.stats.count >= 2", timeout=20_000)
    page.evaluate(TRACE_LOOP, overlap)
    page.wait_for_function("() => window.__loop.filter(e => e[0] === 'answer').length >= 12",
                           timeout=30_000)
    page.evaluate("() => window.signlive.client.pause()")
    log = page.evaluate("() => window.__loop")
    sent = [entry[1] for entry in log if entry[0] == "send"]
    # One in flight: every frame sent after the first waited for the answer to the one before.
    in_flight = None
    for kind, frame_id in log:
        if kind == "send":
            assert in_flight is None, f"frame {frame_id} sent while {in_flight} was in flight"
            in_flight = frame_id
        elif kind == "answer" and frame_id == in_flight:
            in_flight = None
    flights = set(sent[:-1])  # every flight that has ended
    grabbed_during = {frame_id for kind, frame_id in log if kind == "grab" and frame_id}
    if overlap:
        assert flights <= grabbed_during, log
    else:
        assert grabbed_during == set(), log
    assert page.errors == []


def test_kiosk_page_runs_without_controls_and_keeps_its_dom_flat(live_server, browser,
                                                                 artifacts_dir):
    page = open_page(browser, live_server.url + "/kiosk")
    wait_connected_and_running(page)
    page.wait_for_function("() => window.signlive.client.stats.count >= 3", timeout=20_000)
    _assert_guide_matches(page)
    html = page.content()
    assert "/admin" not in html
    buttons = page.locator("button:visible")
    assert buttons.count() <= 1  # only the discreet fullscreen toggle
    # Long sessions: the transcript is capped and the DOM does not grow with frames/letters.
    # (Counted once the hand locator has started: MediaPipe adds its two loader scripts once.)
    page.wait_for_function("() => ['on', 'failed', 'off'].includes("
                           "document.body.dataset.handLocator)", timeout=60_000)
    nodes = page.evaluate("() => document.getElementsByTagName('*').length")
    page.evaluate("() => { for (let i = 0; i < 500; i++) window.signlive.speller.append('AB');"
                  " window.signlive.renderTranscript(); }")
    time.sleep(2.0)
    assert page.evaluate("() => window.signlive.speller.text.length") <= 80
    assert page.evaluate("() => document.getElementsByTagName('*').length") == nodes
    assert page.locator("#transcript").evaluate("el => el.childNodes.length") <= 1
    page.screenshot(path=artifacts_dir / "kiosk-tiny.png")

    # Nobody signed for idle_clear_s: the transcript clears itself.
    page.evaluate("() => { window.signlive.lastLetterAt = performance.now() - 1e7; }")
    page.wait_for_function("() => document.getElementById('transcript').textContent === ''",
                           timeout=5_000)

    # The served model changes (admin activation): the page shows the new name.
    try:
        live_server.state.activate("tiny2")
        page.wait_for_function("() => document.getElementById('model-name').textContent === "
                               "'tiny2'", timeout=10_000)
    finally:
        live_server.state.activate("tiny")
    assert page.errors == []


SPELLING_CASES = """
async () => {
  const { Speller } = await import('/static/js/spelling.js');
  const capped = new Speller({ maxLength: 5 });
  for (const c of 'ABCDEFG') capped.append(c);
  const spaced = new Speller();
  spaced.space(); spaced.append('A'); spaced.space(); spaced.space();
  const picked = new Speller();
  picked.append('HI '); picked.append('HELO');
  const lastWord = picked.lastWord();
  const replaced = picked.replaceLastWord('HELO', 'HELLO');
  const moved = new Speller();
  moved.append('HELOX');
  const refused = moved.replaceLastWord('HELO', 'HELLO');
  const ended = new Speller();
  ended.append('HI HELO'); ended.space();
  const endedWords = [ended.lastWord(), ended.endedWord()];
  const replacedEnded = ended.replaceLastWord('HELO', 'HELLO');
  const past = new Speller();
  past.append('HELO A');
  const refusedPast = past.replaceLastWord('HELO', 'HELLO');
  return {
    capped: capped.text,
    spaces: JSON.stringify(spaced.text),
    lastWord, replaced, picked: picked.text,
    refused, moved: moved.text,
    endedWords, replacedEnded, ended: JSON.stringify(ended.text),
    refusedPast, past: past.text,
  };
}
"""


def test_transcript_rules_in_the_page(live_server, browser):
    page = open_page(browser, live_server.url + "/kiosk")
    result = page.evaluate(SPELLING_CASES)
    assert result == {
        "capped": "CDEFG",
        "spaces": '"A "',
        "lastWord": "HELO",
        "replaced": True,
        "picked": "HI HELLO ",
        "refused": False,
        "moved": "HELOX",
        # A word the hand-drop (or Space) ended is still the one its suggestion replaces.
        "endedWords": ["", "HELO"],
        "replacedEnded": True,
        "ended": '"HI HELLO "',
        "refusedPast": False,
        "past": "HELO A",
    }


GEOMETRY_CASES = """
async () => {
  const g = await import('/static/js/geometry.js');
  const sizes = [[640, 480], [480, 640], [1280, 720], [1920, 1080], [641, 479], [333, 777]];
  return {
    squares: sizes.map(([w, h]) => [w, h, g.guideSquare(w, h, 400 / 480)]),
    capture: sizes.map(([w, h]) => g.captureSize(w, h, 400 / 480, 480)),
    tiny: g.captureSize(200, 150, 400 / 480, 480),
  };
}
"""


def test_page_geometry_matches_the_server(live_server, browser):
    """The page's guide square is preprocess.guide_square to the pixel, and the frames it
    sends keep the guide square at >= 224 px (or the whole frame when the camera is smaller)."""
    page = open_page(browser, live_server.url + "/kiosk")
    result = page.evaluate(GEOMETRY_CASES)
    for width, height, square in result["squares"]:
        expected = guide_square(height, width, 400 / 480)
        assert (square["x"], square["y"], square["side"]) == (expected.x, expected.y,
                                                              expected.side)
    for size in result["capture"]:
        assert max(size["width"], size["height"]) <= 1920
        assert min(size["width"], size["height"]) * 400 / 480 >= 223.5
    assert result["tiny"] == {"width": 200, "height": 150}


def test_camera_denied_shows_a_clear_message(live_server, pw, video, artifacts_dir):
    with chromium(pw, video, grant_camera=False) as browser:
        page = open_page(browser, live_server.url + "/")
        page.wait_for_selector("#camera-message-text:has-text('denied')", timeout=15_000)
        assert page.get_attribute("body", "data-camera-error") == "denied"
        assert page.is_visible("#retry-camera")
        assert "Allow the camera" in page.text_content("#camera-message-text")
        page.screenshot(path=artifacts_dir / "live-camera-denied.png")


def test_insecure_origin_explains_https(live_server, pw, video):
    """Over plain http from a non-local name the browser offers no camera: say why."""
    port = live_server.url.rsplit(":", 1)[1]
    rules = "--host-resolver-rules=MAP signlive.test 127.0.0.1"
    with chromium(pw, video, extra_args=[rules]) as browser:
        page = open_page(browser, f"http://signlive.test:{port}/")
        page.wait_for_selector("#camera-message-text:has-text('https')", timeout=15_000)
        assert page.get_attribute("body", "data-camera-error") == "insecure"
        assert "localhost" in page.text_content("#camera-message-text")
