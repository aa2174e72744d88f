"""How the motion reader is fed: a hand's recent landmark track -> a fixed grid of numbers.

J is the I handshape whose little finger draws a J as the wrist turns; Z is the index finger
drawing a Z in the air. Both are read from where the 21 landmarks go over about a second, so
the reader's input is the track, not a picture. TrackSpec decides, once, how a track becomes
that input, for training (webapp/train/motion.py), the live server (one track per connection)
and `signlive motion` alike:

- Time: the hand's frames are resampled by their own timestamps onto `steps` evenly spaced
  instants between the first and the last frame with a hand, so the same gesture reads the
  same at 3 or 30 frames a second; frames without a hand (all zeros) are left out and their
  instants interpolated from their neighbours.
- Space: x and y (MediaPipe's depth is rough) relative to the wrist's mean position over the
  window and divided by the hand's median size (wrist to farthest landmark), so where the
  hand is in the frame and how near the camera does not matter, while the path it draws does.
  Mirror images are the trainer's business (it shows every track both ways).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from webapp.model.handshape import NUM_LANDMARKS

MOTION_LETTERS = ("J", "Z")
TRACK_FEATURES = "wrist-window-xy-v1"  # recorded in a motion model's metadata
MIN_HAND_FRAMES = 3  # fewer frames with a hand in the window: no reading
# The fingertip that draws each motion letter (MediaPipe's landmark index): J's little finger,
# Z's index finger.
STROKE_TIPS = {"J": 20, "Z": 8}


class TrackError(ValueError):
    """A track or a motion spec that cannot be read; the message says why."""


def hand_size(track: np.ndarray) -> float:
    """The hand's median size over the frames with a hand (wrist to farthest landmark, x and y),
    in the track's units; 0.0 when no frame has one."""
    hand = track[np.any(track != 0, axis=(1, 2))]
    if not len(hand):
        return 0.0
    return float(np.median(np.linalg.norm(hand[:, :, :2] - hand[:, :1, :2], axis=2).max(axis=1)))


@dataclass(frozen=True)
class TrackSpec:
    """How a motion model is fed (steps, window) and what it answers (none, J, Z)."""

    steps: int = 16  # instants the window is resampled onto
    window_s: float = 1.0  # how much of the recent track the live server reads
    threshold: float = 0.5  # a motion letter is read when its probability reaches this
    # ... and when its fingertip travelled at least this many hand sizes in the window: a
    # letter held with some drift, or slid for a double letter (0.6 hand sizes), draws no J
    # or Z. The training people's strokes travel 1.35 (Z) and 1.5 (J) hand sizes or more in
    # nine of ten recordings, their held letters under 0.65 (docs/RESULTS.md).
    min_stroke: float = 1.0
    # ... and, per letter, when that fingertip's path turned by at least this many degrees: a
    # Z has two corners (the training people's Z turn 209 degrees or more in nine of ten
    # recordings), while a hand sliding for a double letter or moving on to the next letter
    # turned at most 180 in the validation recordings that read one as a Z. J needs none.
    min_turns: tuple[float, ...] = (0.0, 190.0)
    letters: tuple[str, ...] = MOTION_LETTERS
    features: str = TRACK_FEATURES

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) \
                or not 4 <= self.steps <= 256:
            raise TrackError(f"steps must be an integer from 4 to 256, got {self.steps!r}")
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, (int, float)) \
                or not 0.2 <= self.window_s <= 10:
            raise TrackError(f"window_s must be a number of seconds in 0.2-10, "
                             f"got {self.window_s!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                or not 0 < self.threshold < 1:
            raise TrackError(f"threshold must be a probability in (0, 1), "
                             f"got {self.threshold!r}")
        if isinstance(self.min_stroke, bool) or not isinstance(self.min_stroke, (int, float)) \
                or not 0 <= self.min_stroke <= 10:
            raise TrackError(f"min_stroke must be 0-10 hand sizes, got {self.min_stroke!r}")
        if tuple(self.letters) != MOTION_LETTERS:
            raise TrackError(f"letters {list(self.letters)} are not {list(MOTION_LETTERS)}")
        turns = tuple(self.min_turns)
        if len(turns) != len(MOTION_LETTERS) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1080
                for v in turns):
            raise TrackError(f"min_turns must be {len(MOTION_LETTERS)} angles of 0-1080 "
                             f"degrees, got {self.min_turns!r}")
        object.__setattr__(self, "min_turns", tuple(float(v) for v in turns))
        if self.features != TRACK_FEATURES:
            raise TrackError(f"track features {self.features!r} are not this version's "
                             f"({TRACK_FEATURES})")
        object.__setattr__(self, "letters", tuple(self.letters))
        object.__setattr__(self, "window_s", float(self.window_s))
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "min_stroke", float(self.min_stroke))

    @property
    def shape(self) -> tuple[int, int]:
        """The model's input per track: (steps, x and y of every landmark)."""
        return (self.steps, 2 * NUM_LANDMARKS)

    @property
    def answers(self) -> tuple[str | None, ...]:
        """What each output means: no motion letter, then the letters."""
        return (None, *self.letters)

    def stroke(self, windows: np.ndarray, letter: str) -> np.ndarray:
        """How far `letter`'s fingertip travelled in each read window (N, steps, 42), in hand
        sizes (the windows are already divided by the hand's size)."""
        tip = STROKE_TIPS[letter]
        windows = np.asarray(windows)
        xy = np.stack([windows[:, :, tip], windows[:, :, NUM_LANDMARKS + tip]], axis=-1)
        return np.linalg.norm(np.diff(xy, axis=1), axis=2).sum(axis=1)

    def turning(self, windows: np.ndarray, letter: str) -> np.ndarray:
        """How many degrees `letter`'s fingertip path turned in each window (moves under 5%
        of the hand's size ignored: the jitter of a held hand turns every way)."""
        tip = STROKE_TIPS[letter]
        out = []
        for window in np.asarray(windows):
            steps = np.diff(np.stack([window[:, tip], window[:, NUM_LANDMARKS + tip]], axis=1),
                            axis=0)
            steps = steps[np.linalg.norm(steps, axis=1) > 0.05]
            angles = np.arctan2(steps[:, 1], steps[:, 0])
            bends = (np.diff(angles) + np.pi) % (2 * np.pi) - np.pi
            out.append(float(np.degrees(np.abs(bends)).sum()))
        return np.array(out)

    def decide(self, probs: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """For each window (N, steps, 42) and its probabilities: 0 for no motion letter, else
        1 + the letter's index: the likelier motion letter when it reaches `threshold` and its
        fingertip drew a stroke of at least `min_stroke` that turned at least its `min_turns`."""
        probs = np.asarray(probs)
        k = probs[:, 1:].argmax(axis=1) + 1
        sure = probs[np.arange(len(probs)), k] >= self.threshold
        drawn = np.zeros(len(probs), bool)
        for i, letter in enumerate(self.letters, start=1):
            mine = k == i
            if mine.any():
                mine_windows = np.asarray(windows)[mine]
                drawn[mine] = ((self.stroke(mine_windows, letter) >= self.min_stroke)
                               & (self.turning(mine_windows, letter) >= self.min_turns[i - 1]))
        return np.where(sure & drawn, k, 0)

    def answer(self, probs: np.ndarray, window: np.ndarray) -> tuple[str | None, float]:
        """One window's (J, Z or None, confidence): decide() for one; the confidence is the
        letter's probability, or that of no motion letter."""
        probs = np.asarray(probs, np.float64)
        k = int(self.decide(probs[None], np.asarray(window)[None])[0])
        return self.answers[k], float(probs[k])

    def read(self, track: np.ndarray, times: np.ndarray) -> np.ndarray | None:
        """(T, 21, 3) landmarks in [0, 1] of the frame + (T,) seconds -> (steps, 42) float32,
        or None when fewer than MIN_HAND_FRAMES frames have a hand. TrackError for a track of
        the wrong shape, non-finite values, or times that go backwards."""
        track = np.asarray(track, np.float32)
        times = np.asarray(times, np.float64)
        if track.ndim != 3 or track.shape[1:] != (NUM_LANDMARKS, 3):
            raise TrackError(f"a track is (frames, {NUM_LANDMARKS}, 3) landmarks, "
                             f"got {track.shape}")
        if times.shape != track.shape[:1]:
            raise TrackError(f"{len(times)} timestamps for {len(track)} frames")
        if not (np.all(np.isfinite(track)) and np.all(np.isfinite(times))):
            raise TrackError("the track holds values that are not finite numbers")
        if np.any(np.diff(times) < 0):
            raise TrackError("the frames' timestamps go backwards")
        present = np.any(track != 0, axis=(1, 2))
        if present.sum() < MIN_HAND_FRAMES:
            return None
        points, when = track[present, :, :2].astype(np.float64), times[present]
        if when[-1] <= when[0]:
            when = np.arange(len(when), dtype=np.float64)  # one instant: spread the frames
        grid = np.linspace(when[0], when[-1], self.steps)
        flat = points.reshape(len(points), -1)
        resampled = np.stack([np.interp(grid, when, flat[:, k]) for k in range(flat.shape[1])],
                             axis=1).reshape(self.steps, NUM_LANDMARKS, 2)
        origin = resampled[:, 0].mean(axis=0)
        size = hand_size(resampled)
        if size <= 1e-6:
            return None  # every landmark on the wrist: not a hand
        normal = (resampled - origin) / size
        return np.concatenate([normal[..., 0], normal[..., 1]], axis=1).astype(np.float32)

    def to_metadata(self) -> dict:
        """The spec as a motion model's metadata keys ("kind": "motion")."""
        return {"kind": "motion", "inputs": ["track"], "steps": self.steps,
                "window_s": self.window_s, "threshold": self.threshold,
                "min_stroke": self.min_stroke, "min_turns": list(self.min_turns),
                "letters": list(self.letters), "track_features": self.features}

    @classmethod
    def from_metadata(cls, metadata: dict) -> TrackSpec:
        """The spec a motion model's metadata records (TrackError when it is not one)."""
        if metadata.get("kind") != "motion":
            raise TrackError("not a motion model (metadata \"kind\" is not \"motion\")")
        try:
            return cls(steps=metadata["steps"], window_s=metadata["window_s"],
                       threshold=metadata["threshold"],
                       min_stroke=metadata.get("min_stroke", 0.0),
                       min_turns=tuple(metadata.get("min_turns", (0.0, 0.0))),
                       letters=tuple(metadata.get("letters") or ()),
                       features=metadata.get("track_features", ""))
        except KeyError as exc:
            raise TrackError(f"motion metadata lacks {exc.args[0]!r}") from None


def best_window(probs_of: Callable[[np.ndarray], np.ndarray], spec: TrackSpec,
                track: np.ndarray, times: np.ndarray) -> tuple[str | None, float]:
    """A track of any length -> (J, Z or None, confidence): windows of spec.window_s (a
    quarter window apart) over it; the window most sure of a motion letter speaks when it
    reaches the threshold, else the track reads as no motion letter (with the confidence of
    the window least sure of that). `probs_of`: windows -> the model's probabilities."""
    track = np.asarray(track, np.float32)
    times = np.asarray(times, np.float64)
    span = float(times[-1] - times[0]) if len(times) else 0.0
    starts = [times[0]] if span <= spec.window_s else [
        *np.arange(times[0], times[-1] - spec.window_s, spec.window_s / 4),
        times[-1] - spec.window_s]
    reads = []
    for start in starts:
        inside = (times >= start - 1e-9) & (times <= start + spec.window_s + 1e-9)
        read = spec.read(track[inside], times[inside])
        if read is not None:
            reads.append(read)
    if not reads:
        return None, 1.0
    windows = np.stack(reads)
    probs = np.asarray(probs_of(windows))
    decided = spec.decide(probs, windows)
    if not decided.any():
        return None, float(probs[:, 0].min())
    motion = np.where(decided > 0, probs[np.arange(len(probs)), decided], -1.0)
    best = int(np.argmax(motion))
    return spec.answers[int(decided[best])], float(motion[best])
