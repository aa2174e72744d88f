"""J committed live: a real recorded J of a held-out person, sent over Socket.IO /live the way
the page sends landmarks (frame pixels, with the box and `located`), frame by frame at the
recording's pace; the server's motion reader finds it and the stream decoder commits it."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from serverkit import receive
from trackkit import held_out_tracks

from webapp.train.motion import RECORDED_FPS

WIDTH, HEIGHT = 640, 480
FRAME = cv2.imencode(".jpg", np.full((HEIGHT, WIDTH, 3), 90, np.uint8))[1].tobytes()


@pytest.fixture(scope="module")
def held_out_strokes():
    held = held_out_tracks()
    return {letter: [t for t, label in zip(held.tracks, held.labels, strict=True)
                     if label == letter] for letter in ("J", "Z", "A")}


def send_track(sio, track: np.ndarray, first_id: int, fps: float) -> list[dict]:
    """Each frame as the page sends it (landmarks in the frame's pixels, their box), paced at
    `fps`; the server's answers."""
    answers = []
    for i, points in enumerate(track):
        started = time.perf_counter()
        payload = {"id": first_id + i, "image": FRAME, "located": True}
        if np.any(points):
            pixels = points * np.array([WIDTH, HEIGHT, WIDTH], np.float32)
            low, high = pixels[:, :2].min(axis=0), pixels[:, :2].max(axis=0)
            payload.update(box=[float(low[0]), float(low[1]), float(high[0] - low[0]) + 1,
                                float(high[1] - low[1]) + 1],
                           landmarks=pixels.tolist(), handedness="Right")
        sio.emit("frame", payload)
        event, data = receive(sio)
        assert event == "prediction", data
        answers.append(data)
        time.sleep(max(0.0, 1 / fps - (time.perf_counter() - started)))
    return answers


@pytest.fixture
def live(make_app, serve_app, tiny_config):
    app = make_app({**tiny_config, "CONFIDENCE_THRESHOLD": 0.6})
    assert app.extensions["signlive"].inference.motion is not None  # the shipped reader
    server = serve_app(app)
    sio = server.connect()
    yield sio
    sio.disconnect()


def test_a_held_out_persons_j_is_committed_live(live, held_out_strokes):
    committed = []
    for n, track in enumerate(held_out_strokes["J"][:3]):
        answers = send_track(live, track, 1000 * n, RECORDED_FPS)
        committed.append("".join(letter for a in answers for letter in a["committed"]))
        time.sleep(1.2)  # the hand rests between strokes
    assert sum("J" in letters for letters in committed) >= 2, committed


def test_a_held_static_letter_commits_no_motion_letter(live, held_out_strokes):
    for n, track in enumerate(held_out_strokes["A"][:3]):
        answers = send_track(live, track, 5000 + 1000 * n, RECORDED_FPS)
        letters = "".join(letter for a in answers for letter in a["committed"])
        assert "J" not in letters and "Z" not in letters, letters
