"""Images for the tests: PNGs of any size, depth and channel count, PNG headers that declare a
size their pixels do not have (decompression bombs, 0x0 images), the tests' one photo folder
maker (make_photos), and landmarks shaped by letter, as the locator would find them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from webapp.model.handshape import NUM_LANDMARKS, Hand
from webapp.model.letters import letter_to_class


def png(width: int, height: int, channels: int = 1, depth: int = 8) -> bytes:
    """A real PNG: a horizontal gradient (compresses like a camera picture, unlike noise)."""
    dtype = np.uint16 if depth == 16 else np.uint8
    row = np.linspace(0, 2**depth - 1, width).astype(dtype)
    array = np.tile(row, (height, 1))
    if channels > 1:
        array = np.repeat(array[..., None], channels, axis=2)
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG header (with a correct CRC) declaring width x height, no real pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\0" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat)) + b"IDAT" + idat
            + struct.pack(">I", zlib.crc32(b"IDAT" + idat)))


def make_photos(root: Path, sources: list[str], letters: str = "ABC",
                per_letter: int = 2) -> list[Path]:
    """A tiny `<LETTER>/<source>_<n>.jpg` photo folder under `root`: 80x60 noise with a bright
    block placed by letter (so a model can tell them apart a little). Returns the photos,
    sorted."""
    rng = np.random.default_rng(0)
    photos = []
    for index, letter in enumerate(letters):
        (root / letter).mkdir(parents=True, exist_ok=True)
        for source in sources:
            for n in range(per_letter):
                image = rng.integers(0, 120, (60, 80, 3), dtype=np.uint8)
                x = 10 + 20 * index
                image[15:45, x:x + 20] = 230
                path = root / letter / f"{source}_{n}.jpg"
                ok, data = cv2.imencode(".jpg", image)
                assert ok
                path.write_bytes(data.tobytes())
                photos.append(path)
    return sorted(photos)


def letter_hand(letter: str, rng: np.random.Generator, left: bool = False) -> Hand:
    """Landmarks in a photo's pixels: one shape per letter, jittered, sized and placed at
    random; a left hand is the same shape mirrored (and so the same features)."""
    shape = np.random.default_rng(100 + letter_to_class(letter)).normal(
        0.0, 1.0, (NUM_LANDMARKS, 3)) * [1.0, 1.0, 0.2]
    shape[0] = 0.0
    points = (shape + rng.normal(0.0, 0.05, shape.shape)) * rng.uniform(10.0, 18.0)
    if left:
        points[:, 0] = -points[:, 0]
    hand = Hand.parse((points + [28.0, 40.0, 0.0]).tolist(), "Left" if left else "Right")
    assert hand is not None
    return hand
