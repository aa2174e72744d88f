"""webapp/model/preprocess.py: the one frame -> model-input path, on good frames and hostile
bytes."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from webapp.model.preprocess import (
    DEFAULT_CROP_FRACTION,
    FrameError,
    Square,
    encoded_size,
    guide_square,
    preprocess,
)


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    chunks = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _square_frame(height: int, width: int, crop: float, inside: int, outside: int) -> np.ndarray:
    frame = np.full((height, width), outside, np.uint8)
    sq = guide_square(height, width, crop)
    frame[sq.y : sq.y + sq.side, sq.x : sq.x + sq.side] = inside
    return frame


# --------------------------------------------------------------------------- guide square


@pytest.mark.parametrize(
    ("height", "width", "crop", "expected"),
    [
        (480, 640, DEFAULT_CROP_FRACTION, Square(120, 40, 400)),  # the original demo's box
        (640, 480, DEFAULT_CROP_FRACTION, Square(40, 120, 400)),  # portrait phone
        (720, 1280, 0.5, Square(460, 180, 360)),
        (50, 100, 1.0, Square(25, 0, 50)),
        (101, 101, 0.5, Square(25, 25, 50)),  # round(50.5) = 50 (banker's), centred with floor
        (2, 2, 0.05, Square(0, 0, 1)),  # never a zero-sized crop
    ],
)
def test_guide_square(height: int, width: int, crop: float, expected: Square) -> None:
    assert guide_square(height, width, crop) == expected


@pytest.mark.parametrize("crop", [0.0, 0.049, 1.01, -1, float("nan")])
def test_guide_square_rejects_bad_fractions(crop: float) -> None:
    with pytest.raises(FrameError) as caught:
        guide_square(480, 640, crop)
    assert caught.value.code == "bad_crop"


# ---------------------------------------------------------------------------- good frames


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((480, 640, 3), np.uint8),
        np.zeros((720, 1280), np.uint8),
        np.zeros((1080, 1920, 4), np.uint8),
        np.zeros((300, 200, 1), np.uint8),
        np.zeros((28, 28), np.uint16),
        np.zeros((5, 7, 3), np.float32),
        np.zeros((2, 2), np.uint8),
    ],
    ids=["vga-bgr", "hd-gray", "fullhd-bgra", "portrait-1ch", "uint16", "float-tiny", "2x2"],
)
@pytest.mark.parametrize("size", [28, 64])
def test_frames_of_many_kinds_become_model_input(frame: np.ndarray, size: int) -> None:
    out = preprocess(frame, size=size)
    assert out.shape == (size, size, 1) and out.dtype == np.float32
    assert (out == 0).all()


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (333, 1000, 3)])
def test_only_the_guide_square_is_seen(shape: tuple[int, ...]) -> None:
    frame = _square_frame(shape[0], shape[1], 0.6, inside=255, outside=0)
    if len(shape) == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    assert (preprocess(frame, 0.6) == 1.0).all()
    inverse = 255 - frame
    assert (preprocess(inverse, 0.6) == 0.0).all()
    # A larger crop includes the dark border, so the mean drops.
    assert 0.3 < preprocess(frame, 1.0).mean() < 0.9


def test_dtypes_scale_the_same() -> None:
    gray = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (128, 1))
    base = preprocess(gray, 1.0, 32)
    np.testing.assert_allclose(preprocess(gray.astype(np.uint16) * 257, 1.0, 32), base, atol=1e-6)
    np.testing.assert_allclose(preprocess(gray / 255.0, 1.0, 32), base, atol=1 / 255 + 1e-6)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    np.testing.assert_allclose(preprocess(bgr, 1.0, 32), base, atol=1 / 255 + 1e-6)
    assert 0.0 <= base.min() and base.max() <= 1.0 and base.max() > 0.9


def test_encoded_frames_take_the_same_path_as_arrays() -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (480, 640), dtype=np.uint8)
    as_array = preprocess(gray)
    np.testing.assert_array_equal(preprocess(_png(gray)), as_array)  # lossless: identical
    np.testing.assert_array_equal(preprocess(bytearray(_png(gray))), as_array)
    np.testing.assert_array_equal(preprocess(memoryview(_png(gray))), as_array)
    # Colour: the decoder's own gray conversion may round differently by one level.
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    np.testing.assert_allclose(preprocess(_png(frame)), preprocess(frame), atol=1 / 255 + 1e-6)
    smooth = cv2.GaussianBlur(frame, (31, 31), 0)
    assert np.abs(preprocess(_jpeg(smooth)) - preprocess(smooth)).max() < 0.05
    for image in (  # gray, alpha and 16-bit PNGs are accepted
        rng.integers(0, 256, (50, 60), dtype=np.uint8),
        rng.integers(0, 256, (50, 60, 4), dtype=np.uint8),
        rng.integers(0, 65536, (50, 60), dtype=np.uint16),
    ):
        assert preprocess(_png(image), 0.9, 28).shape == (28, 28, 1)


def test_encoded_size_reads_headers_only() -> None:
    frame = np.zeros((123, 456, 3), np.uint8)
    assert encoded_size(_png(frame)) == (456, 123)
    assert encoded_size(_jpeg(frame)) == (456, 123)
    assert encoded_size(_png_declaring(30000, 30000)) == (30000, 30000)


# ----------------------------------------------------------------------------- bad frames


def _truncated_jpeg() -> bytes:
    data = _jpeg(np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8))
    return data[: len(data) // 2]


BAD_FRAMES = {
    "empty bytes": (b"", "empty"),
    "random bytes": (np.random.default_rng(3).bytes(5000), "not_an_image"),
    "text": (b"hello, this is not an image", "not_an_image"),
    "jpeg magic only": (b"\xff\xd8", "truncated"),
    "jpeg header cut": (_jpeg(np.zeros((64, 64), np.uint8))[:40], "truncated"),
    "jpeg cut mid-scan": (_truncated_jpeg(), "corrupt"),
    "png magic only": (b"\x89PNG\r\n\x1a\n", "truncated"),
    "png bomb 30000x30000": (_png_declaring(30000, 30000), "too_large"),
    "png 1x1": (_png(np.zeros((1, 1), np.uint8)), "too_small"),
    "png 0 wide": (_png_declaring(0, 10), "too_small"),
    "png body corrupt": (_png(np.zeros((64, 64), np.uint8))[:60] + b"\0" * 40, "corrupt"),
    "over the byte limit": (b"\xff\xd8" + b"\0" * (16 * 1024 * 1024), "too_large"),
    "str instead of bytes": ("abc", "not_bytes"),
    "None": (None, "not_bytes"),
    "array 1x1": (np.zeros((1, 1), np.uint8), "too_small"),
    "array 9000 wide": (np.zeros((10, 9000), np.uint8), "too_large"),
    "array 2 channels": (np.zeros((10, 10, 2), np.uint8), "bad_shape"),
    "array 1-d": (np.zeros(100, np.uint8), "bad_shape"),
    "array int64": (np.zeros((10, 10), np.int64), "bad_dtype"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frames_are_refused_with_a_code(case: str) -> None:
    frame, code = BAD_FRAMES[case]
    with pytest.raises(FrameError) as caught:
        preprocess(frame)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message and "\n" not in caught.value.message
