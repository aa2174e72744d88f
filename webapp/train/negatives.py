"""Pictures with no hand in them, shown in training with a flat target so that an empty
room reads as no letter: synthetic rooms, and crops of the photos away from the hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from webapp.model.preprocess import FrameError, decode_gray, hand_square, scale_pixels
from webapp.train.locate import BoxCache
from webapp.train.signmnist import IMAGE_SIDE


def hand_free_images(count: int, size: int = IMAGE_SIDE, seed: int = 0) -> np.ndarray:
    """`count` synthetic pictures with no hand in them, as model input (N, size, size, 1).

    What a camera sees when nobody signs: plain and unevenly lit walls, blurred texture,
    stripes and checks (blinds, tiles, shelves), mixed, with sensor noise; drawn at 4x the
    size and area-resized, as preprocess() does. Training shows them with a flat target
    over all letters (`TrainConfig.negatives`), so that an empty guide square reads as
    'no sign' instead of as the letter it happens to look most like.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or positive, got {count}")
    rng = np.random.default_rng(seed)
    big = size * 4
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
    out = np.empty((count, size, size, 1), np.float32)
    for i in range(count):
        kind = rng.integers(0, 5)
        low, high = np.sort(rng.uniform(0.0, 1.0, 2))
        angle = rng.uniform(0, np.pi)
        along = xx * np.cos(angle) + yy * np.sin(angle)
        if kind == 0:  # a plain wall
            image = np.full((big, big), rng.uniform(0.0, 1.0), np.float32)
        elif kind == 1:  # light falling off across the wall
            image = low + (high - low) * (along - along.min()) / max(np.ptp(along), 1e-6)
        elif kind == 2:  # a lamp: brighter around one point
            cx, cy = rng.uniform(-0.5, 1.5, 2)
            image = high - (high - low) * np.clip(np.hypot(xx - cx, yy - cy), 0, 1)
        elif kind == 3:  # blinds, tiles, shelves
            period = rng.uniform(0.08, 0.5)
            image = low + (high - low) * (np.sin(2 * np.pi * along / period) > 0)
            if rng.random() < 0.5:
                across = -xx * np.sin(angle) + yy * np.cos(angle)
                image = np.where(np.sin(2 * np.pi * across / period) > 0, image, high + low - image)
        else:  # clutter: blurred noise over a gradient
            noise = rng.random((big, big)).astype(np.float32)
            noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(1.0, big / 6))
            noise = (noise - noise.min()) / max(float(np.ptp(noise)), 1e-6)
            image = low + (high - low) * (0.6 * noise + 0.4 * (along - along.min())
                                          / max(np.ptp(along), 1e-6))
        image = image + rng.normal(0, rng.uniform(0, 0.03), image.shape)
        small = cv2.resize(np.clip(image, 0, 1).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_AREA)
        out[i, :, :, 0] = small
    return out


ROOM_MAX_HAND = 0.6  # a photo whose hand square is wider than this x its shorter side: no room


def room_crops(
    paths: Sequence[str], count: int, size: int, seed: int = 0, boxes: BoxCache | None = None
) -> np.ndarray:
    """Up to `count` hand-free squares cut from real photos: walls, ceilings, furniture, faces
    and shoulders, away from the hand square and the arm below it, (count, size, size, 1).

    Only photos whose located hand is small in the frame (webcam frames of a person in a
    room) give crops, one each at most; cropped-hand photos have no room around the hand.
    These teach "no sign" on real rooms, which the synthetic hand_free_images() only imitate.
    A few crops still show the other hand or an arm: the locator boxes one hand only.
    """

    boxes = boxes if boxes is not None else BoxCache.load()
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for index in rng.permutation(len(paths)):
        if len(out) >= count:
            break
        try:
            raw = Path(paths[index]).read_bytes()
            box = boxes.get(hashlib.sha256(raw).hexdigest())
            if box is None:
                continue
            gray = decode_gray(raw)
            height, width = gray.shape
            hand = hand_square(box, height, width)
        except (OSError, FrameError):
            continue
        if hand.side > ROOM_MAX_HAND * min(height, width):
            continue
        for _ in range(10):  # a few tries at a square clear of the hand and the arm below it
            side = int(rng.uniform(0.3, 0.6) * min(height, width))
            x = int(rng.integers(0, width - side + 1))
            y = int(rng.integers(0, height - side + 1))
            clear = (x + side <= hand.x or x >= hand.x + hand.side or y + side <= hand.y)
            if clear:
                small = cv2.resize(gray[y : y + side, x : x + side], (size, size),
                                   interpolation=cv2.INTER_AREA)
                out.append(scale_pixels(small))
                break
    if not out:
        return np.zeros((0, size, size, 1), np.float32)
    return np.stack(out)
