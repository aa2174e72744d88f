"""Landmark tracks made in the tests: J-like and Z-like strokes, held I and pointing hands,
in the frame's [0, 1] coordinates, as ../shared/motion holds them (and files of them).

Not a test module (no test_ prefix): tests/ is on sys.path, so tests import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from webapp.config import motion_dir
from webapp.train.motion import MOTION_SPLIT, Tracks, load_tracks

# A right hand in the frame's [0, 1] coordinates: wrist, then four points a finger.
_FINGERS = np.array([[-0.6, -0.2], [-0.25, -0.9], [0.0, -1.0], [0.25, -0.9], [0.5, -0.75]])


def hand(wrist: tuple[float, float], raised: tuple[int, ...], size: float = 0.12,
         turn: float = 0.0) -> np.ndarray:
    """(21, 3) landmarks: fingers `raised` (0 thumb .. 4 little) stretched, the rest curled,
    the whole hand turned by `turn` radians about the wrist."""
    points = [np.zeros(2)]
    for finger, tip in enumerate(_FINGERS):
        reach = 1.0 if finger in raised else 0.35
        points += [tip * reach * k / 4 for k in range(1, 5)]
    xy = np.array(points)
    c, s = np.cos(turn), np.sin(turn)
    xy = xy @ np.array([[c, -s], [s, c]]).T * size + np.array(wrist)
    return np.concatenate([xy, np.zeros((21, 1))], axis=1).astype(np.float32)


def stroke(kind: str, frames: int, rng: np.random.Generator, mirrored: bool = False):
    """A track of `frames` frames: "J" (little finger up, the hand sweeping down and hooking
    while the wrist turns), "Z" (index up, the hand drawing a Z), "I" or "D" held still."""
    u = np.linspace(0, 1, frames)
    start = np.array([0.5, 0.45]) + rng.normal(0, 0.03, 2)
    size = rng.uniform(0.09, 0.15)
    if kind == "J":
        path = np.stack([np.where(u < 0.6, 0, -np.sin((u - 0.6) / 0.4 * np.pi / 2) * 0.6),
                         np.where(u < 0.6, u / 0.6, 1 + 0.3 * np.sin((u - 0.6) / 0.4 * np.pi))],
                        axis=1) * size * 1.5
        track = [hand(start + p, (4,), size, turn=-1.2 * t) for p, t in zip(path, u, strict=True)]
    elif kind == "Z":
        corners = np.array([[0, 0], [1.2, 0], [0, 1.0], [1.2, 1.0]]) * size * 1.6
        path = np.stack([np.interp(u * 3, np.arange(4), corners[:, k]) for k in (0, 1)], axis=1)
        track = [hand(start + p, (1,), size) for p in path]
    else:
        raised = (4,) if kind == "I" else (1,)
        track = [hand(start + rng.normal(0, 0.002, 2), raised, size) for _ in range(frames)]
    track = np.stack(track)
    if mirrored:
        track[..., 0] = 1.0 - track[..., 0]
    return track


def made_tracks(count: int, seed: int) -> Tracks:
    rng = np.random.default_rng(seed)
    kinds = ["J", "Z", "I", "D"] * count
    tracks = [stroke(k, int(rng.integers(15, 31)), rng, mirrored=bool(rng.random() < 0.5))
              for k in kinds]
    return Tracks(tracks, np.array(kinds), np.array(["made"] * len(kinds)),
                  np.array(["test"] * len(kinds)))


def write_people(folder: Path, people: dict[str, int], seed: int = 0) -> Path:
    """A ../shared/motion-like folder: one .npz of 20-frame tracks, `count` of each of J, Z,
    I and D for each person of `people` ({signer: count})."""
    rng = np.random.default_rng(seed)
    tracks, labels, signers = [], [], []
    for person, count in people.items():
        for kind in ("J", "Z", "I", "D") * count:
            tracks.append(stroke(kind, 20, rng, mirrored=bool(rng.random() < 0.5)))
            labels.append(kind)
            signers.append(person)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "made.npz", tracks=np.stack(tracks), label=np.array(labels),
             signer=np.array(signers))
    return folder


def held_out_tracks() -> Tracks:
    """The real recordings of motion-v1's held-out people (the test skips without them)."""
    import pytest

    folder = motion_dir()
    if not folder.is_dir():
        pytest.skip(f"{folder}: the motion recordings are not here")
    data = load_tracks(folder)
    return data.subset(np.array([MOTION_SPLIT.role(s) == "held_out" for s in data.signers]))
