"""The hand's shape as numbers: MediaPipe's 21 landmarks -> one feature vector for the model.

Why: pixels carry the room, the light and the skin; where the fingertips sit relative to the
wrist does not. The page's hand locator already finds the 21 landmarks of every frame
(static/js/hand-locator.js), and `signlive locate` caches the same ones for the photo sets,
so a model that reads them as a second input sees the same numbers live, in training and in
evaluation.

The vector is translation and scale free (wrist at the origin, the farthest landmark at
distance 1) but keeps the hand's rotation: some letters differ mainly by orientation (H/U,
K/P, G/Q). A left hand (MediaPipe's handedness) is mirrored into a right one, so one
classifier serves both (the branch nets.build_handshape_branch builds reads the mirror image
too, since that call is often wrong, and leaves the rough depth out). It starts with a 1
for "a hand is here": with no hand the whole vector is zero, and the model's landmark branch
(bias-free) then adds exactly nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 21
FEATURES = 1 + NUM_LANDMARKS * 3  # presence, then (x, y, z) per landmark
FEATURES_VERSION = "mediapipe-hands-21-v1"  # recorded in a model's metadata as "handshape"


def _finite(value: object) -> bool:
    """A JSON number that is a finite float (not a bool, not an int beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class Hand:
    """What the locator saw besides the box: 21 landmarks [x, y, z] in the photo's pixels (z,
    MediaPipe's depth relative to the wrist, in x's units) and "Left"/"Right" (or None)."""

    landmarks: tuple[tuple[float, float, float], ...]
    handedness: str | None = None

    @classmethod
    def parse(cls, landmarks: object, handedness: object = None) -> Hand | None:
        """From the page's JSON; None unless 21 finite [x, y, z] triples."""
        if not isinstance(landmarks, (list, tuple)) or len(landmarks) != NUM_LANDMARKS:
            return None
        points = []
        for point in landmarks:
            if not (isinstance(point, (list, tuple)) and len(point) == 3
                    and all(_finite(v) for v in point)):
                return None
            points.append((float(point[0]), float(point[1]), float(point[2])))
        side = handedness if handedness in ("Left", "Right") else None
        return cls(tuple(points), side)

    def to_json(self) -> dict:
        return {"landmarks": [list(p) for p in self.landmarks], "handedness": self.handedness}

    def features(self) -> np.ndarray:
        """This hand's feature vector (see `features`)."""
        return features(self.landmarks, self.handedness)


def features(landmarks: Sequence[Sequence[float]] | None,
             handedness: str | None = None) -> np.ndarray:
    """The float32 (FEATURES,) vector of one hand (landmarks in pixels, [x, y, z] each), or
    zeros when there is no usable hand (None, wrong count, non-finite, all in one point)."""
    out = np.zeros(FEATURES, np.float32)
    if landmarks is None:
        return out
    points = np.asarray(landmarks, np.float64)
    if points.shape != (NUM_LANDMARKS, 3) or not np.all(np.isfinite(points)):
        return out
    points = points - points[0]
    scale = float(np.max(np.hypot(points[:, 0], points[:, 1])))
    if scale < 1e-6:
        return out
    points /= scale
    if handedness == "Left":
        points[:, 0] = -points[:, 0]
    out[0] = 1.0
    out[1:] = points.reshape(-1)
    return out


def augment(batch: np.ndarray, rng: np.random.Generator, turn_deg: float = 12.0,
            stretch: float = 0.1, noise: float = 0.015) -> np.ndarray:
    """Training-time variation of feature vectors: a small in-plane turn, an uneven stretch
    (photos resized to another aspect), landmark jitter. Absent hands stay all zero."""
    out = batch.copy()
    present = out[:, 0] > 0
    points = out[present, 1:].reshape(-1, NUM_LANDMARKS, 3)
    n = len(points)
    angle = np.deg2rad(rng.uniform(-turn_deg, turn_deg, n))
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = points[:, :, 0].copy(), points[:, :, 1].copy()
    sx = rng.uniform(1 - stretch, 1 + stretch, (n, 1))
    points[:, :, 0] = (cos[:, None] * x - sin[:, None] * y) * sx
    points[:, :, 1] = sin[:, None] * x + cos[:, None] * y
    points += rng.normal(0.0, noise, points.shape)
    points -= points[:, :1]  # the wrist stays the origin
    scale = np.max(np.hypot(points[:, :, 0], points[:, :, 1]), axis=1)
    points /= np.maximum(scale, 1e-6)[:, None, None]
    out[present, 1:] = points.reshape(n, NUM_LANDMARKS * 3)
    return out.astype(np.float32)
