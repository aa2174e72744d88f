"""End to end in real headless Chromium: a held-out signer spells HELLO at 1 letter a second, no
pause between letters, the double L as two different photos with a slide between them
(tests/browser/signing.py), and the live page must write HELLO whole: the stream decoder on the
server commits each letter once, the second L after the slide. When the hand drops the word
ends (a space) and the page offers it among its suggestions. The kiosk page spells from the
same camera. How often a letter is read in a transition is the spelling bench's to measure
(bench/spelling_rate.py: 3 extra letters for 88 signed at this pace in the last two held-out
runs, docs/RESULTS.md): over the clip's passes here it happens now and then, so it is not this
test's to forbid. (This replaces the first end-to-end test, which showed Sign Language MNIST's
28x28 pictures blown up into the guide square: the page's locator finds no hand in those, and
where it finds none the server now reads nothing.)

The photos are those of the held-out sources the page's locator finds a hand in and the
served model reads right when held still (bench/spelling_rate.py measures the rest); the test
skips, naming why, when the model reads none for some letter.
"""

from __future__ import annotations

import cv2
import pytest
from chromium import DESKTOP, chromium, open_page, playwright, wait_connected_and_running
from rooms import (
    READ_WATCH,
    WATCH,
    SceneError,
    model_under_test,
    photos_for_scenes,
    synthetic_room,
)
from signing import THRESHOLD, assign, readable_photos, render

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WORD = "HELLO"
PACE = 1.0  # letters a second
PER_SOURCE = 3  # photos of each letter tried from each held-out source
LOCATOR_TIMEOUT_MS = 60_000
MODEL = model_under_test()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    photos = photos_for_scenes(MODEL)
    work = tmp_path_factory.mktemp("signing")
    try:
        pool = readable_photos(photos, set(WORD), work / "locate", MODEL,
                               per_source=PER_SOURCE, log=lambda _: None)
    except SceneError as exc:
        pytest.fail(str(exc))
    try:
        plan = assign([WORD], pool)
    except SceneError as exc:
        pytest.skip(f"model {MODEL.stem}: {exc}")
    room = cv2.cvtColor(synthetic_room(), cv2.COLOR_GRAY2BGR)
    path, _, _ = render(work / "hello.y4m", plan, room, PACE)
    return path


@pytest.fixture(scope="module")
def server(video, serve_app, tmp_path_factory):
    from webapp import create_app

    return serve_app(create_app({
        "TESTING": True, "SECRET_KEY": "test", "MODELS_DIR": str(MODEL.parent),
        "ACTIVE_MODEL": MODEL.stem, "CONFIDENCE_THRESHOLD": THRESHOLD,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
    }))


def test_the_live_page_spells_a_double_letter_at_one_letter_a_second(server, video,
                                                                      artifacts_dir):
    with playwright() as pw, chromium(pw, video) as browser:
        page = open_page(browser, server.url + "/", DESKTOP)
        wait_connected_and_running(page, timeout_ms=30_000)
        page.wait_for_function("() => document.body.dataset.handLocator === 'on'",
                               timeout=LOCATOR_TIMEOUT_MS)
        page.evaluate(WATCH)
        # The camera loops the clip (2 s of room, the word in 5 s, 1.5 s of room): two passes
        # spell the word whole at least once.
        try:
            page.wait_for_function(
                "w => document.getElementById('transcript').textContent.includes(w)",
                arg=WORD, timeout=40_000)
            page.wait_for_function(
                "w => !document.getElementById('suggestions').hidden && Array.from("
                "document.querySelectorAll('#suggestions [data-role=word]'))"
                ".some(el => el.textContent === w)", arg=WORD, timeout=15_000)
        finally:
            page.screenshot(path=artifacts_dir / "live-spelled-word.png")
        seen = page.evaluate(READ_WATCH)
        text = seen["transcript"]
        # Each pass of the clip is a word of its own (the hand drops between passes), and one
        # of them is the word, the double L written twice and no other letter doubled.
        assert WORD in text.split(), text
        assert page.errors == []
        page.close()

        kiosk = open_page(browser, server.url + "/kiosk", {"width": 1280, "height": 720})
        wait_connected_and_running(kiosk, timeout_ms=30_000)
        try:
            kiosk.wait_for_function(
                "w => document.getElementById('transcript').textContent.includes(w)",
                arg=WORD, timeout=40_000)
        finally:
            kiosk.screenshot(path=artifacts_dir / "kiosk.png")
        assert kiosk.errors == []
