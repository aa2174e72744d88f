"""THE frame -> model-input function.

Training, evaluation, `signlive predict` and the live server all turn an image into the
classifier's input here and nowhere else, so a frame seen live and an image seen in
evaluation take exactly the same path: decode -> crop -> gray -> resize -> [0, 1].

The crop is a square around the hand when the page (or `signlive locate`, for photos) found
one and sent its box, and the centered guide square otherwise.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_CROP_FRACTION = 400 / 480
CROP_FRACTION_RANGE = (0.05, 1.0)  # of the frame's shorter side; every caller checks with this
DEFAULT_INPUT_SIZE = 28
# Around a hand box, the crop adds this fraction of the box's longer side on every side, so
# fingertips at the box's edge are not cut off and a little of the scene frames the hand.
HAND_MARGIN = 0.25
# How a model's input was cut from its images (metadata "crop"): around the hand box, or the
# guide square. Models that predate hand crops have no "crop" and were all cut by the guide.
CROPS = ("guide", "hand")
DEFAULT_CROP = "guide"
MAX_SIDE = 8000
MIN_SIDE = 2
MAX_ENCODED_BYTES = 16 * 1024 * 1024

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8"
# JPEG start-of-frame markers that carry the image size (all SOFn except DHT/JPG/DAC).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FrameError(ValueError):
    """A frame that cannot become model input; `code` is a short machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Square:
    """A square region of a frame, in pixels: left, top and side."""

    x: int
    y: int
    side: int


def crop_fraction_problem(value: object) -> str | None:
    """Why `value` cannot be a crop fraction (a number in CROP_FRACTION_RANGE), or None."""
    low, high = CROP_FRACTION_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        return f"must be a number in [{low:g}, {high:g}], got {value!r}"
    return None


def guide_square(height: int, width: int, crop_fraction: float = DEFAULT_CROP_FRACTION) -> Square:
    """The centered guide square whose side is crop_fraction x the frame's shorter side.

    The page draws exactly this square over the video (same formula in static/js).
    """
    problem = crop_fraction_problem(crop_fraction)
    if problem:
        raise FrameError("bad_crop", f"crop fraction {problem}")
    side = max(1, int(round(min(height, width) * crop_fraction)))
    return Square(x=(width - side) // 2, y=(height - side) // 2, side=side)


def hand_square(
    box: Sequence[float], height: int, width: int, margin: float = HAND_MARGIN
) -> Square:
    """The square to crop around a hand box [x, y, w, h] (frame pixels), kept inside the frame.

    Its side is the box's longer side plus `margin` of it on each side (never more than the
    frame's shorter side), centered on the box and shifted inward where it would stick out.
    """
    x, y, w, h = check_box(box, height, width)
    # Capped before rounding: a huge (finite) box must not overflow int(round(inf)).
    side = max(1, int(round(min(max(w, h) * (1 + 2 * margin), height, width))))
    cx, cy = x + w / 2, y + h / 2
    left = int(round(cx - side / 2))
    top = int(round(cy - side / 2))
    return Square(
        x=min(max(left, 0), width - side), y=min(max(top, 0), height - side), side=side
    )


def check_box(box: object, height: int, width: int) -> tuple[float, float, float, float]:
    """A hand box [x, y, w, h] checked against a frame: four finite numbers, w and h > 0, and
    overlapping the frame. Raises FrameError("bad_box") with the reason otherwise."""
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise FrameError("bad_box", "box must be a list of four numbers [x, y, w, h]")
    values = []
    for value in box:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FrameError("bad_box", f"box values must be numbers, got {value!r}")
        if not math.isfinite(value):
            raise FrameError("bad_box", f"box values must be finite, got {value!r}")
        values.append(float(value))
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise FrameError("bad_box", f"box width and height must be positive, got {w}x{h}")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise FrameError(
            "bad_box", f"box {[x, y, w, h]} lies outside the {width}x{height} frame"
        )
    return x, y, w, h


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise FrameError("truncated", "PNG data ends before its header (IHDR)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            raise FrameError("corrupt", "JPEG data is corrupt (bad marker)")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            break
        pos += 2 + length
    raise FrameError("truncated", "JPEG data ends before its frame header")


def encoded_size(data: bytes) -> tuple[int, int]:
    """(width, height) declared by a PNG or JPEG header, read without decoding the pixels."""
    if data.startswith(_PNG_MAGIC):
        return _png_size(data)
    if data.startswith(_JPEG_MAGIC):
        return _jpeg_size(data)
    raise FrameError("not_an_image", "data is neither a JPEG nor a PNG image")


def _check_size(width: int, height: int) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise FrameError(
            "too_small", f"image is {width}x{height} pixels; at least {MIN_SIDE}x{MIN_SIDE} needed"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise FrameError(
            "too_large", f"image is {width}x{height} pixels; at most {MAX_SIDE} a side"
        )


def decode_gray(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Encoded JPEG/PNG bytes -> 8-bit gray array; the size is checked from the header first.

    Refusing from the header means a tiny file declaring 30000x30000 pixels (a decompression
    bomb) is never decoded. 16-bit, gray, and alpha PNGs are all accepted.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameError("not_bytes", f"image must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise FrameError("empty", "image is empty (0 bytes)")
    if len(data) > MAX_ENCODED_BYTES:
        raise FrameError("too_large", f"image is {len(data)} bytes; at most {MAX_ENCODED_BYTES}")
    width, height = encoded_size(data)
    _check_size(width, height)
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None or gray.size == 0:
        raise FrameError("corrupt", "image could not be decoded (corrupt or truncated)")
    return gray


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A BGR, BGRA or gray array (8- or 16-bit, or float in [0, 1]) -> 8-bit gray."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(
            "not_an_image", f"frame must be an array or bytes, got {type(frame).__name__}"
        )
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise FrameError("bad_shape", f"frame shape {frame.shape} is not gray, BGR or BGRA")
    _check_size(frame.shape[1], frame.shape[0])
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype.kind == "f":
        frame = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise FrameError("bad_dtype", f"frame dtype {frame.dtype} is not uint8, uint16 or float")
    if frame.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        frame = cv2.cvtColor(frame, code)
    return frame


def scale_pixels(gray: np.ndarray) -> np.ndarray:
    """8-bit gray pixels -> float32 in [0, 1] with a channel axis: the model's input scale."""
    return (np.asarray(gray, dtype=np.float32) / 255.0)[..., np.newaxis]


def preprocess(
    frame: bytes | bytearray | memoryview | np.ndarray,
    crop_fraction: float = DEFAULT_CROP_FRACTION,
    size: int = DEFAULT_INPUT_SIZE,
    box: Sequence[float] | None = None,
) -> np.ndarray:
    """A camera frame (encoded bytes, or a BGR/gray array) -> float32 (size, size, 1) in [0, 1].

    Crops the square around the hand `box` ([x, y, w, h] in frame pixels) when one is given,
    else the centered guide square; grays, shrinks with area interpolation and scales.
    Raises FrameError with a clear message for anything that is not a usable image.
    """
    gray = to_gray(frame) if isinstance(frame, np.ndarray) else decode_gray(frame)
    height, width = gray.shape[:2]
    if box is None:
        square = guide_square(height, width, crop_fraction)
    else:
        square = hand_square(box, height, width)
    crop = gray[square.y : square.y + square.side, square.x : square.x + square.side]
    interpolation = cv2.INTER_AREA if square.side >= size else cv2.INTER_LINEAR
    small = cv2.resize(crop, (size, size), interpolation=interpolation)
    return scale_pixels(small)
