"""No hand, no letter: the live page, in headless Chromium with the served model, watches empty
rooms for several seconds and must neither spell nor show a letter.

The fake camera loops hand-free scenes (tests/browser/rooms.py): for each held-out raw-webcam
source of the photo split, a room region cut away from the hand that the page's own locator
(`signlive locate`) finds in one of its photos, and one synthetic room. Frames must really
reach the server meanwhile, so nothing passes by sending nothing. Serves models/default, or
$SIGNLIVE_MODELS/$SIGNLIVE_MODEL. `python -m bench.empty_room` measures the same scenes for
minutes, room by room.
"""

from __future__ import annotations

import pytest
from chromium import CHROMIUM, DESKTOP, chromium, open_page, playwright, wait_connected_and_running
from rooms import (
    READ_WATCH,
    WATCH,
    SceneError,
    contact_sheet,
    empty_rooms,
    model_under_test,
    rooms_video,
)

from webapp import config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THRESHOLD = 0.6  # the served default (SIGNLIVE_CONFIDENCE_THRESHOLD)
HOLD_S = 2.0  # each room in turn, looped
MIN_SECONDS = 8.0  # of frames answered, at the least (and one whole loop of the rooms)
MIN_ANSWERS = 16  # frames answered in that time: the page really sent, the server answered
LOCATOR_TIMEOUT_MS = 60_000  # WASM compile + model load on a busy 2-core machine
MODEL = model_under_test()


@pytest.fixture(scope="module")
def rooms(tmp_path_factory, artifacts_dir):
    from pathlib import Path

    photos = config.photos_dir()
    if not photos.is_dir():
        pytest.skip(f"{photos} is missing (the photo folder is ../shared/photos or "
                    "$SIGNLIVE_PHOTOS): no real rooms to show")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser-deps` installs it")
    try:
        found = empty_rooms(photos, tmp_path_factory.mktemp("locate"))
    except SceneError as exc:
        pytest.fail(f"the empty rooms cannot be built: {exc}")
    real = [room for room in found if room.kind == "room"]
    assert len(real) >= 2, (
        f"the locator found a hand, and room beside it, in {len(real)} held-out source(s) only")
    contact_sheet(found, artifacts_dir / "empty-rooms.png")
    return found


@pytest.fixture(scope="module")
def video(rooms, tmp_path_factory):
    return rooms_video(tmp_path_factory.mktemp("video") / "rooms.y4m",
                       [room.frame for room in rooms], hold_s=HOLD_S)


@pytest.fixture(scope="module")
def server(serve_app, tmp_path_factory):
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is not there yet (the shipped model is trained separately)")
    from webapp import create_app

    return serve_app(create_app({
        "TESTING": True, "SECRET_KEY": "test", "MODELS_DIR": str(MODEL.parent),
        "ACTIVE_MODEL": MODEL.stem, "CONFIDENCE_THRESHOLD": THRESHOLD,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))}))


def test_no_hand_no_letter(server, rooms, video, artifacts_dir):
    names = ", ".join(room.name for room in rooms)
    seconds = max(MIN_SECONDS, len(rooms) * HOLD_S + 1.0)
    with playwright() as pw, chromium(pw, video) as browser:
        page = open_page(browser, server.url + "/", DESKTOP)
        wait_connected_and_running(page, timeout_ms=30_000)
        # The live path as it runs for people: the locator looks for a hand in every frame.
        page.wait_for_function(
            "() => ['on', 'failed', 'off'].includes(document.body.dataset.handLocator)",
            timeout=LOCATOR_TIMEOUT_MS)
        assert page.get_attribute("body", "data-hand-locator") == "on"
        answered = server.state.inference.stats()["frames_answered"]
        page.evaluate(WATCH)
        page.wait_for_timeout(seconds * 1000)
        seen = page.evaluate(READ_WATCH)
        answered = server.state.inference.stats()["frames_answered"] - answered
        page.screenshot(path=artifacts_dir / "live-empty-room.png")

        summary = (f"{seen['predictions']} answers in {seen['seconds']:.1f} s "
                   f"({seen['boxed']} frames with a hand box), top confidence "
                   f"{seen['maxConfidence']:.2f}; rooms: {names}")
        print(summary)
        assert seen["seconds"] >= MIN_SECONDS
        assert seen["predictions"] >= MIN_ANSWERS and answered >= MIN_ANSWERS, summary
        assert seen["errors"] == 0, summary
        assert seen["appended"] == [] and seen["transcript"] == "", (
            f"spelled {seen['transcript']!r} in empty rooms; {summary} "
            "(`python -m bench.empty_room` tells which room)")
        assert seen["letters"] == [], (
            f"showed letters {seen['letters'][:10]} in empty rooms; {summary}")
        assert seen["shown"] == "–"
        assert page.errors == []
