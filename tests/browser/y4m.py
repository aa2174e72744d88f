"""A YUV4MPEG2 (.y4m) writer and the fake-camera videos for the browser tests.

Chromium's `--use-file-for-fake-video-capture=FILE.y4m` plays such a file in a loop as the
camera. Frames are 4:2:0 (C420, the format Chromium's parser accepts). Color (BGR) pictures
are converted as video is (OpenCV's I420: BT.601, luma in the studio range 16-235): the
server reads gray, but the page's hand locator reads the camera's colors, as it does a real
webcam's. Gray pictures are written as they are, the value as luma and neutral chroma (the
gray scenes of the tests were chosen that way; Chromium shows them a little more contrasted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from webapp.model.preprocess import DEFAULT_CROP_FRACTION, guide_square

WIDTH, HEIGHT, FPS = 640, 480, 10


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int = FPS) -> Path:
    """Write uint8 frames, gray (H, W) or BGR (H, W, 3), all the same even size, as a C420
    .y4m file."""
    path = Path(path)
    with path.open("wb") as out:
        size = None
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            color = frame.ndim == 3 and frame.shape[2] == 3
            if not (frame.ndim == 2 or color) or frame.shape[0] % 2 or frame.shape[1] % 2:
                raise ValueError("frames must be gray (H, W) or BGR (H, W, 3) with even sides, "
                                 f"got {frame.shape}")
            height, width = frame.shape[:2]
            if size is None:
                out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
                size = (height, width)
                neutral = np.full(height * width // 2, 128, np.uint8).tobytes()  # U and V
            elif (height, width) != size:
                raise ValueError(f"frame size changed from {size} to {(height, width)}")
            out.write(b"FRAME\n")
            if color:  # I420: the Y plane, then U and V at half size, as C420 wants
                out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
            else:
                out.write(frame.tobytes())
                out.write(neutral)
        if size is None:
            raise ValueError("no frames to write")
    return path


def background(value: int = 0, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A plain frame: nothing in the guide square (the 'no sign' picture)."""
    return np.full((height, width), value, np.uint8)


def with_sample(sample: np.ndarray, back: np.ndarray,
                crop_fraction: float = DEFAULT_CROP_FRACTION) -> np.ndarray:
    """`back` with a 28x28 sample scaled up into the guide square."""
    frame = back.copy()
    square = guide_square(frame.shape[0], frame.shape[1], crop_fraction)
    big = cv2.resize(np.asarray(sample, np.uint8), (square.side, square.side),
                     interpolation=cv2.INTER_CUBIC)
    frame[square.y : square.y + square.side, square.x : square.x + square.side] = big
    return frame


def spelling_video(path: str | Path, samples: Sequence[np.ndarray], back: np.ndarray, *,
                   lead_s: float = 1.5, hold_s: float = 1.0, gap_s: float = 0.5,
                   fps: int = FPS) -> Path:
    """A video that shows each sample in the guide square for hold_s, with `back` for gap_s
    between them (and lead_s before the first), so each letter is a separate stable stretch."""

    def frames():
        yield from (back for _ in range(round(lead_s * fps)))
        for sample in samples:
            picture = with_sample(sample, back)
            yield from (picture for _ in range(round(hold_s * fps)))
            yield from (back for _ in range(round(gap_s * fps)))

    return write_y4m(path, frames(), fps)
