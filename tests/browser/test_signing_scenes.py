"""The spelling scenes' renderer (tests/browser/signing.py) without a browser: the video keeps
to the word spans it reports at every pace, 1/3 s a letter included (not a whole number of
frames), so the spelling bench scores each letter against the frames that showed it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from signing import BLEND_S, VIDEO_FPS, Shot, render

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
