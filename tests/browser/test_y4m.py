"""The fake camera's .y4m writer: gray and color frames, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from y4m import write_y4m

W, H = 8, 6
HEADER = f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420\n".encode()
FRAME = len(b"FRAME\n") + W * H * 3 // 2


def _planes(path: Path, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = path.read_bytes()
    assert data.startswith(HEADER)
    start = len(HEADER) + index * FRAME
    assert data[start : start + 6] == b"FRAME\n"
    raw = np.frombuffer(data, np.uint8, W * H * 3 // 2, start + 6)
    y = raw[: W * H].reshape(H, W)
    u = raw[W * H : W * H * 5 // 4].reshape(H // 2, W // 2)
    v = raw[W * H * 5 // 4 :].reshape(H // 2, W // 2)
    return y, u, v


def test_gray_and_color_frames_in_one_video(tmp_path: Path) -> None:
    gray = np.arange(W * H, dtype=np.uint8).reshape(H, W) * 3
    red = np.zeros((H, W, 3), np.uint8)
    red[..., 2] = 200
    path = write_y4m(tmp_path / "v.y4m", [gray, np.dstack([gray] * 3), red])
    assert path.stat().st_size == len(HEADER) + 3 * FRAME
    y, u, v = _planes(path, 0)  # gray: the picture itself, neutral chroma
    assert np.array_equal(y, gray) and (u == 128).all() and (v == 128).all()
    # The same picture in BGR: video's studio range (luma 16-235), about neutral chroma.
    y, u, v = _planes(path, 1)
    assert np.abs(y.astype(int) - (16 + gray.astype(float) * 219 / 255)).max() <= 1
    assert np.abs(u.astype(int) - 128).max() <= 1 and np.abs(v.astype(int) - 128).max() <= 1
    y, u, v = _planes(path, 2)  # red: red's chroma (V well above neutral, U below)
    assert (v > 180).all() and (u < 128).all()
    assert (np.abs(y.astype(int) - (16 + 0.299 * 200 * 219 / 255)) <= 1).all()


@pytest.mark.parametrize("frames", [
    [np.zeros((H, W + 1), np.uint8)],  # odd side
    [np.zeros((H, W, 4), np.uint8)],  # BGRA
    [np.zeros((H, W), np.uint8), np.zeros((H + 2, W), np.uint8)],  # size changes
    [],  # nothing
], ids=["odd", "four-channels", "size-change", "empty"])
def test_bad_frames_are_refused(tmp_path: Path, frames: list) -> None:
    with pytest.raises(ValueError):
        write_y4m(tmp_path / "v.y4m", frames)
