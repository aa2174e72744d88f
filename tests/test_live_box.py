"""Frames with the page's hand box on /live, against a real server and real Socket.IO clients.

Two copies of the tiny test model are served in turn: `hand` (metadata "crop": "hand") reads
the square around a frame's box, `guide` (no "crop" key, like models trained before hand
crops) reads the guide square and ignores boxes. What the server answered is checked against
the model run here on webapp.model.preprocess's own crops of the same lossless frame.
"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import requests
from serverkit import receive

from webapp.model.preprocess import guide_square, hand_square, preprocess

TIMEOUT = 15
H, W = 480, 640
BOX = [10, 30, 50, 70]  # the "hand": top left, well outside the guide square


def _frame() -> bytes:
    """A lossless 640x480 frame whose hand box and guide square hold different pictures."""
    rng = np.random.default_rng(7)
    frame = np.full((H, W), 90, np.uint8)
    square = hand_square(BOX, H, W)
    frame[square.y : square.y + square.side, square.x : square.x + square.side] = rng.integers(
        0, 256, (square.side, square.side), dtype=np.uint8)
    guide = guide_square(H, W)
    assert guide.x > square.x + square.side  # the two crops do not overlap
    ramp = np.linspace(0, 255, guide.side, dtype=np.uint8)
    frame[guide.y : guide.y + guide.side, guide.x : guide.x + guide.side] = ramp[None, :]
    ok, data = cv2.imencode(".png", frame)
    assert ok
    return data.tobytes()


FRAME = _frame()


@pytest.fixture(scope="module")
def models_dir(hand_models_dir):
    return hand_models_dir


@pytest.fixture(scope="module")
def server(hand_server):
    return hand_server


@pytest.fixture
def sio(server):
    client = server.connect()
    yield client
    client.disconnect()


@pytest.fixture
def serving(server):
    """serving(name): make `name` the served model for one test (back to `hand` after)."""
    def activate(name: str) -> None:
        if server.state.model_name != name:
            server.state.activate(name)

    yield activate
    activate("hand")


@pytest.fixture(scope="module")
def expected(models_dir):
    """The top-3 [letter, p] the tiny model gives each crop of FRAME, computed here."""
    from webapp.model.letters import top_predictions
    from webapp.model.registry import Registry

    model = Registry(models_dir).load("hand").model

    def top(x: np.ndarray) -> list[list]:
        return top_predictions(np.asarray(model(x[np.newaxis], training=False))[0])

    return {"hand": top(preprocess(FRAME, box=BOX)), "guide": top(preprocess(FRAME))}


def ask(sio, frame_id: int, **extra):
    sio.emit("frame", {"id": frame_id, "image": FRAME, **extra})
    event, data = receive(sio)
    assert data["id"] == frame_id, data
    return event, data


def assert_top(got: list[list], want: list[list]) -> None:
    assert [letter for letter, _ in got] == [letter for letter, _ in want], (got, want)
    assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=2e-4), (got, want)


def test_the_two_crops_read_differently(expected):
    """The premise of the tests below: the model tells the two crops apart."""
    hand, guide = expected["hand"], expected["guide"]
    assert hand[0][0] != guide[0][0] or abs(hand[0][1] - guide[0][1]) > 5e-3, (hand, guide)


def test_a_hand_model_reads_the_square_around_the_box(server, sio, serving, expected):
    serving("hand")
    assert server.state.inference.served.spec.crop == "hand"
    before = server.state.inference.stats()["frames_with_box"]
    event, data = ask(sio, 1, box=BOX)
    assert event == "prediction" and data["model"] == "hand"
    assert_top(data["top"], expected["hand"])
    # Without a box (no hand found, or a page with the locator off): the guide square.
    event, data = ask(sio, 2)
    assert event == "prediction"
    assert_top(data["top"], expected["guide"])
    event, data = ask(sio, 3, box=None)
    assert_top(data["top"], expected["guide"])
    assert server.state.inference.stats()["frames_with_box"] == before + 1


def test_a_guide_model_ignores_the_box(server, sio, serving, expected):
    serving("guide")
    assert server.state.inference.served.spec.crop == "guide"  # no "crop" in its metadata
    for frame_id, box in ((10, BOX), (11, [5000, 5000, 10, 10])):  # even one outside the frame
        event, data = ask(sio, frame_id, box=box)
        assert (event, data["model"]) == ("prediction", "guide"), data
        assert_top(data["top"], expected["guide"])
    # A malformed box is still refused by the payload check, whatever the model.
    event, data = ask(sio, 12, box=[1, 2, 3])
    assert (event, data["code"]) == ("error", "bad_box")


def test_a_located_frame_without_a_box_has_no_hand(server, sio, serving, expected):
    """The page's locator looked and found no hand: a hand-crop model has nothing to read
    (no letter, no hand, the model not run); a guide model still reads its square."""
    serving("hand")
    stats = server.state.inference.stats
    before = stats()
    event, data = ask(sio, 30, located=True)
    assert event == "prediction", data
    assert (data["letter"], data["top"], data["hand"], data["committed"]) == (None, [], False, [])
    after = stats()
    assert after["frames_answered"] == before["frames_answered"] + 1
    assert after["batches"] == before["batches"]  # no forward pass
    # With its box, the same frame is read as before.
    event, data = ask(sio, 32, box=BOX, located=True)
    assert data["hand"] is True
    assert_top(data["top"], expected["hand"])
    serving("guide")
    event, data = ask(sio, 33, located=True)
    assert event == "prediction" and data["hand"] is True  # threshold 0: a letter, a hand
    assert_top(data["top"], expected["guide"])


@pytest.mark.parametrize("value", ["yes", 1, 0, None, [True]])
def test_located_must_be_true_or_false(sio, serving, value):
    serving("hand")
    sio.emit("frame", {"id": 40, "image": FRAME, "located": value})
    event, data = receive(sio)
    if value is None:  # JSON null: the key is as good as absent
        assert event == "prediction", data
        return
    assert (event, data["code"], data["id"]) == ("error", "bad_payload", 40), data
    assert "located" in data["message"]
    event, data = ask(sio, 41, located=False)
    assert event == "prediction"


BAD_BOXES = [
    ("right of the frame", [W, 10, 50, 50], "outside the 640x480 frame"),
    ("below the frame", [10, H + 5, 50, 50], "outside the 640x480 frame"),
    ("above-left of the frame", [-100, -100, 100, 100], "outside the 640x480 frame"),
    ("zero width", [10, 10, 0, 50], "positive"),
    ("negative height", [10, 10, 50, -5], "positive"),
    ("three numbers", [1, 2, 3], "[x, y, w, h]"),
    ("five numbers", [1, 2, 3, 4, 5], "[x, y, w, h]"),
    ("strings", ["10", "10", "50", "50"], "[x, y, w, h]"),
    ("booleans", [True, 0, 1, 1], "[x, y, w, h]"),
    ("an object", {"x": 1, "y": 2, "w": 3, "h": 4}, "[x, y, w, h]"),
    ("a string", "the left hand", "[x, y, w, h]"),
    ("not a number", [float("nan"), 0, 10, 10], "[x, y, w, h]"),
    ("infinite", [0, 0, float("inf"), 10], "[x, y, w, h]"),
    ("a huge integer", [10**99, 0, 10, 10], "outside the 640x480 frame"),
]


@pytest.mark.parametrize("box,words", [b[1:] for b in BAD_BOXES], ids=[b[0] for b in BAD_BOXES])
def test_a_bad_box_gets_bad_box_and_the_next_frame_works(server, sio, serving, expected, box,
                                                         words):
    serving("hand")
    before = server.state.inference.stats()["frames_rejected"].get("bad_box", 0)
    event, data = ask(sio, 20, box=box)
    assert (event, data["code"]) == ("error", "bad_box"), data
    assert words in data["message"], data["message"]
    assert server.state.inference.stats()["frames_rejected"]["bad_box"] == before + 1
    event, data = ask(sio, 21, box=BOX)
    assert event == "prediction"
    assert_top(data["top"], expected["hand"])


def test_the_payload_check_refuses_an_int_beyond_float_range():
    """Engine.IO's JSON already refuses integers of over 100 digits; validate_frame must not
    raise OverflowError on one all the same (other transports, direct callers)."""
    from webapp.serve.live import BadFrame, validate_frame

    with pytest.raises(BadFrame) as caught:
        validate_frame({"id": 1, "image": FRAME, "box": [10**400, 0, 10, 10]}, 1 << 20)
    assert (caught.value.code, caught.value.frame_id) == ("bad_box", 1)


@pytest.mark.parametrize("box", [[-10, -10, 40, 40], [600, 400, 200, 200], [0, 0, 1e308, 1e308],
                                 [0.5, 0.5, 10.25, 3.75]],
                         ids=["over the top-left corner", "over the bottom-right corner",
                              "huge", "fractional"])
def test_a_box_that_overlaps_the_frame_is_used(sio, serving, box):
    serving("hand")
    event, data = ask(sio, 30, box=box)
    assert event == "prediction", data
    square = hand_square(box, H, W)  # inside the frame, whatever the box
    assert 0 <= square.x <= W - square.side and 0 <= square.y <= H - square.side


def test_healthz_reports_the_crop_mode(server, serving):
    serving("guide")
    assert requests.get(server.url + "/healthz", timeout=TIMEOUT).json()["crop"] == "guide"
    serving("hand")
    health = requests.get(server.url + "/healthz", timeout=TIMEOUT).json()
    assert (health["model"], health["crop"], health["status"]) == ("hand", "hand", "ok")


def test_an_unknown_crop_mode_is_refused_and_the_model_keeps_serving(server, models_dir, sio,
                                                                     serving):
    serving("hand")
    metadata = json.loads((models_dir / "hand.json").read_text())
    shutil.copyfile(models_dir / "hand.keras", models_dir / "oval.keras")
    (models_dir / "oval.json").write_text(json.dumps({**metadata, "name": "oval",
                                                      "crop": "oval"}))
    try:
        with pytest.raises(ValueError, match="metadata crop must be one of guide, hand, got 'o"):
            server.state.activate("oval")
    finally:
        for suffix in (".keras", ".json"):
            (models_dir / f"oval{suffix}").unlink()
    assert server.state.model_name == "hand" and server.state.inference.served.spec.crop == "hand"
    assert ask(sio, 40, box=BOX)[0] == "prediction"


def test_the_page_setting_turns_the_locator_off(make_app, tiny_config, monkeypatch):
    app = make_app(tiny_config)
    page = app.test_client().get("/")
    assert b"mediapipe-hands-" in page.data and b'"hand_locator": 1' in page.data
    assert "'wasm-unsafe-eval'" in page.headers["Content-Security-Policy"]
    monkeypatch.setenv("SIGNLIVE_HAND_LOCATOR", "0")
    client = make_app(tiny_config).test_client()
    for path in ("/", "/kiosk"):
        page = client.get(path)
        assert b"mediapipe-hands-" not in page.data and b'"hand_locator": 0' in page.data
        assert "wasm" not in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("value", ["2", "-1", "yes", "1.0"])
def test_a_bad_hand_locator_setting_is_refused_by_name(make_app, tiny_config, monkeypatch,
                                                       value):
    monkeypatch.setenv("SIGNLIVE_HAND_LOCATOR", value)
    with pytest.raises(ValueError, match=f"SIGNLIVE_HAND_LOCATOR={value!r}"):
        make_app(tiny_config)


def test_wasm_is_allowed_on_the_live_pages_only(client):
    for path in ("/", "/kiosk"):
        assert "script-src 'self' 'wasm-unsafe-eval';" in client.get(path).headers[
            "Content-Security-Policy"]
    for path in ("/admin/login", "/healthz", "/static/js/live.js", "/no-such-page"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "wasm" not in csp, (path, csp)
