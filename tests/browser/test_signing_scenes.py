"""The spelling scenes' renderer (tests/browser/signing.py) without a browser: the video keeps
to the word spans it reports at every pace, 1/3 s a letter included (not a whole number of
frames), so the spelling bench scores each letter against the frames that showed it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from signing import BLEND_S, SLIDE, VIDEO_FPS, Shot, assign, render, slide_to

H, W = 480, 640
HEADER_END = b"\n"
FRAME_BYTES = len(b"FRAME\n") + W * H * 3 // 2


def _luma_means(path: Path) -> list[float]:
    """Each frame's mean luma away from the stamp in the top-left corner."""
    data = path.read_bytes()
    start = data.index(HEADER_END) + 1
    n = (len(data) - start) // FRAME_BYTES
    means = []
    for k in range(n):
        offset = start + k * FRAME_BYTES + len(b"FRAME\n")
        y = np.frombuffer(data, np.uint8, W * H, offset).reshape(H, W)
        means.append(float(y[100:, 100:].mean()))
    return means


def _luma(value: int) -> float:
    """A gray BGR level as the .y4m holds it (studio range, tests/browser/y4m.py)."""
    return 16 + 219 * value / 255


def _shot(value: int) -> Shot:
    return Shot(f"{value}.png", np.full((H, W, 3), value, np.uint8), 100.0, (320.0, 240.0))


@pytest.mark.parametrize("pace", [0.5, 1.0, 2.0, 3.0])
def test_the_video_keeps_to_the_spans(tmp_path: Path, pace: float) -> None:
    levels = {"A": 60, "B": 120, "C": 180, "D": 240}
    words = [(w, "src", [_shot(levels[c]) for c in w]) for w in ("ABC", "DAB", "CAD", "BCDA")]
    path, spans, total = render(tmp_path / "v.y4m", words, np.zeros((H, W, 3), np.uint8), pace)
    means = _luma_means(path)
    assert len(means) == pytest.approx(total * VIDEO_FPS, abs=1)
    for span in spans:
        assert span.end - span.start == pytest.approx(len(span.word) / pace)
        for i, letter in enumerate(span.word):
            # Just before the letter's slot ends (and its blend into the next begins), the
            # frame shows that letter's picture alone.
            t = span.start + (i + 1) / pace - BLEND_S - 0.5 / VIDEO_FPS
            assert means[int(t * VIDEO_FPS)] == pytest.approx(_luma(levels[letter]), abs=1.5), (
                span.word, letter, t)
        # And the room (black) once the word is over.
        assert means[int((span.end + 0.05) * VIDEO_FPS)] < _luma(levels["A"])


def test_a_double_letter_slides_within_the_frame() -> None:
    hand = 160.0
    # In the middle the slide alternates sides (odd letters right, even left) ...
    assert slide_to(320.0, hand, W, 1) == pytest.approx(320 + SLIDE * hand)
    assert slide_to(320.0, hand, W, 2) == pytest.approx(320 - SLIDE * hand)
    # ... but never out of the camera's view: near an edge it slides away from it.
    assert slide_to(120.0, hand, W, 2) == pytest.approx(120 + SLIDE * hand)
    assert slide_to(W - 120.0, hand, W, 1) == pytest.approx(W - 120 - SLIDE * hand)
    for x in np.linspace(hand / 2, W - hand / 2, 9):
        for i in (1, 2):
            landed = slide_to(float(x), hand, W, i)
            assert hand / 2 <= landed <= W - hand / 2


def _sized(name: str, hand: float) -> Shot:
    return Shot(name, np.zeros((H, W, 3), np.uint8), hand, (320.0, 240.0))


def test_a_double_letter_is_the_same_hand_twice() -> None:
    # Photos of L at four sizes: whichever the first L is, the second is the one nearest it
    # in size (a double letter is not a hand twice as near the camera), never the same photo.
    pool = {("src", "L"): [_sized(f"l{n}", hand) for n, hand in enumerate((80, 100, 200, 260))],
            ("src", "A"): [_sized("a", 120)]}
    for seed in range(8):
        (_, _, shots), = assign(["ALL"], pool, seed)
        first, second = shots[1], shots[2]
        others = [s for s in pool[("src", "L")] if s is not first]
        assert second is min(others, key=lambda s: abs(np.log(s.hand / first.hand)))


PICKS = """
import sys
sys.path[:0] = {paths!r}
import numpy as np
from signing import Shot, assign
pool = {{("src", c): [Shot(f"{{c}}{{n}}", np.zeros((2, 2, 3), np.uint8), 100.0 + n, (1.0, 1.0))
                     for n in range(5)] for c in "BCDAE"}}
print([shot.path for _, _, shots in assign(["BEAD", "CAB", "DECADE"], pool, 3) for shot in shots])
"""


def test_a_seed_picks_the_same_photos_in_every_run() -> None:
    # A process's string hashing (PYTHONHASHSEED) must not decide which photo a letter gets:
    # the bench's --seed names one set of scenes.
    here = Path(__file__).resolve().parent
    code = PICKS.format(paths=[str(here), str(here.parent)])
    runs = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True, env=os.environ | {"PYTHONHASHSEED": str(n)}).stdout
            for n in range(4)}
    assert len(runs) == 1, runs
