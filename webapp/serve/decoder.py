"""The stream decoder: per-frame letter probabilities and the hand's position -> spelled letters.

Why a decoder and not a fixed hold: people fingerspell several letters a second, go straight
from one letter to the next and sign a double letter with a small bounce or slide of the same
handshape. A rule that waits for a long hold and needs the hand to leave before a letter may
repeat loses doubles and everything faster than about a letter a second.

How it reads the stream (frames at whatever rate the page manages, 3-30 a second):
- A *hold* is a stretch of frames whose most likely letter is the same, each at least
  `frame_floor` sure. A frame read as another letter or an unsure frame ends the hold. The
  hand *moves* when it goes more than `move_fraction` of its size, or grows or shrinks by more
  than `resize_fraction`, within `move_window_ms` (a bounce or a slide does; a hand drifting
  slowly over a long hold does not, nor the box of a hand just found, which MediaPipe's tracker
  widens by up to a third over its first frames): that ends a hold of the letter committed
  last (so that a double letter needs a bounce or a slide), but not a hold of a new letter,
  which at a few frames a second is often first seen while the hand is still shifting from
  the letter before (bench/spelling_rate.py, validation recordings).
- A hold is *settled* once it has lasted `settle_ms` (each of its frames counting for the
  time since the frame before it, capped at `max_frame_ms`: two frames settle at 3-10 fps,
  five at 30 fps) over at least `min_frames` frames, with a mean probability of at least
  `confidence`. A settled hold commits its letter once. Transitions
  (blurred, moving, mixed handshapes) do not settle, so they commit nothing.
- The same letter commits again (a double letter) only after a *break* since its last commit:
  the hand moved quickly away from where that letter committed (a bounce or a slide of more
  than `move_fraction` of its size, or a size change of `resize_fraction`), left, or another
  letter committed. A flicker to another reading, or a slow drift, while the letter is held
  is not a break, so holding one letter long never doubles it.
- With no hand nothing commits; after `word_end_ms` without a hand the word in progress ends
  (the caller offers suggestions for it, webapp/serve/suggest.py).
- A *motion letter* (J or Z, which the caller's motion reader found in the hand's track,
  webapp/serve/motionreader.py) commits once per stroke: it takes back the letters committed
  in the `motion_ms` before it (the stroke's handshape, read as I or D while it was drawn: the
  Step's `retract`), and nothing else commits for `motion_ms` after it.

Pure logic with no clock of its own (callers pass timestamps): the live server runs one per
connection (webapp/serve/inference.py), and bench/spelling_rate.py replays recorded streams
through the same class.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from webapp.config import DEFAULT_SETTLE_MS
from webapp.model.letters import CLASS_LETTERS, NUM_CLASSES


@dataclass(frozen=True)
class DecoderSettings:
    """The decoder's bounds, in one place (chosen on recorded streams: docs/RESULTS.md)."""

    settle_ms: float = DEFAULT_SETTLE_MS  # a hold this long (and min_frames) commits its letter
    min_frames: int = 2  # never commit on a single frame
    confidence: float = 0.6  # the hold's mean probability for its letter
    frame_floor: float = 0.35  # a frame less sure than this ends the hold (an unsure frame)
    move_fraction: float = 0.25  # the hand moving this much of its size ends the hold (a break)
    resize_fraction: float = 0.5  # ... or growing/shrinking by this much (closer, farther)
    move_window_ms: float = 300.0  # ... within this long (and always since the frame before)
    max_frame_ms: float = 400.0  # the most one frame counts for (a slow page, a hiccup)
    gap_ms: float = 1500.0  # longer than this without frames: the stream restarts
    word_end_ms: float = 700.0  # this long without a hand ends the word in progress
    # A motion letter (J, Z: the motion reader's) takes back the letters committed this long
    # before it (its handshape read as I, or its pointing hand as D, while it was drawn), and
    # no letter commits for as long after it (the hand finishing the stroke).
    motion_ms: float = 1000.0

    def __post_init__(self) -> None:
        checks = (("settle_ms", 0, 10_000), ("min_frames", 1, 100), ("confidence", 0, 1),
                  ("frame_floor", 0, 1), ("move_fraction", 0.01, 10), ("resize_fraction", 0.01, 10),
                  ("move_window_ms", 0, 10_000),
                  ("max_frame_ms", 1, 10_000), ("gap_ms", 1, 600_000),
                  ("word_end_ms", 1, 600_000), ("motion_ms", 0, 10_000))
        for name, low, high in checks:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"decoder {name}={value} must be {low}-{high}")


@dataclass(frozen=True)
class Letter:
    """One committed letter and the mean probabilities of the hold that committed it (what
    the suggestions weigh words with; zeros for J and Z, which the letter model never reads)."""

    letter: str
    probs: np.ndarray  # (NUM_CLASSES,) float32
    t: float  # when it committed (the caller's clock, seconds)


@dataclass(frozen=True)
class Step:
    """What one frame changed: letters taken back (`retract`, from the end of the word: a
    motion letter's handshape read while it was drawn), letters committed (0 or 1), the letter
    being read and how far its hold is towards committing (0-1; 1 once committed and still
    held), a finished word."""

    committed: tuple[str, ...] = ()
    reading: str | None = None
    hold: float = 0.0
    word: tuple[Letter, ...] | None = None
    retract: int = 0


@dataclass
class _Hold:
    letter: int
    frames: int = 1
    span_ms: float = 0.0
    prob_sum: np.ndarray = field(default_factory=lambda: np.zeros(NUM_CLASSES, np.float64))
    committed: bool = False


Place = tuple[float, float, float]  # a hand box's center x, center y and size (pixels)


def _hand_place(box: Sequence[float]) -> Place:
    """(center x, center y, size) of a hand box [x, y, w, h]."""
    x, y, w, h = (float(v) for v in box)
    return x + w / 2, y + h / 2, max(w, h, 1e-6)


class StreamDecoder:
    """Feed `update()` every answered frame of one stream, in time order."""

    def __init__(self, settings: DecoderSettings | None = None) -> None:
        self.settings = settings or DecoderSettings()
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new stream (camera switched, page reconnected)."""
        self._hold: _Hold | None = None
        self._places: deque[tuple[float, Place]] = deque()  # (t, place) of recent frames
        self._last_t: float | None = None
        self._last_commit: int | None = None
        self._commit_place: Place | None = None  # where the last letter committed
        self._broken = True  # a break since the last commit (a double letter may follow)
        self._no_hand_since: float | None = None
        self._word: list[Letter] = []
        self._motion_t: float | None = None  # when the last motion letter committed

    @property
    def word(self) -> tuple[Letter, ...]:
        """The letters of the word in progress."""
        return tuple(self._word)

    def update(self, t: float, probs: np.ndarray | Sequence[float] | None,
               box: Sequence[float] | None = None, motion: str | None = None) -> Step:
        """One frame seen at time `t` (seconds): the model's probabilities over the 24
        letters, or None when no hand is in it; `box` ([x, y, w, h], any pixels) is where the
        hand is, or None when the page sent no box (then motion is not judged); `motion`, the
        motion letter (J, Z) the motion reader found in the track ending at this frame."""
        s = self.settings
        dt_ms = 0.0
        if self._last_t is not None:
            if t < self._last_t:
                raise ValueError(f"frames must come in time order ({t} after {self._last_t})")
            dt_ms = (t - self._last_t) * 1000.0
            if dt_ms > s.gap_ms:  # the stream broke off: nothing bridges the gap
                self._hold = None
                self._places.clear()
                self._broken = True
                dt_ms = 0.0
        self._last_t = t
        if motion is not None and probs is not None:
            return self._motion(t, motion, box)
        if probs is None:
            return self._no_hand(t)
        p = np.asarray(probs, np.float64)
        if p.shape != (NUM_CLASSES,) or not np.all(np.isfinite(p)):
            raise ValueError(f"probabilities must be {NUM_CLASSES} finite numbers, "
                             f"got shape {p.shape}")
        self._no_hand_since = None
        top = int(np.argmax(p))
        hold = self._hold
        if self._moved(t, box):
            if hold is not None and (hold.committed or hold.letter == self._last_commit):
                hold = None  # the letter just committed: only a new hold may repeat it
            if self._away_from_commit(box):
                self._broken = True
        if p[top] < s.frame_floor:
            self._hold = None
            return Step()
        if hold is None or hold.letter != top:
            hold = _Hold(top, span_ms=min(dt_ms, s.max_frame_ms))
        else:
            hold.frames += 1
            hold.span_ms += min(dt_ms, s.max_frame_ms)
        hold.prob_sum += p
        self._hold = hold
        committed: tuple[str, ...] = ()
        mean = hold.prob_sum[top] / hold.frames
        settled = (hold.frames >= s.min_frames and hold.span_ms >= s.settle_ms
                   and mean >= s.confidence)
        quiet = self._motion_t is not None and (t - self._motion_t) * 1000.0 < s.motion_ms
        if settled and not hold.committed and not quiet and (
                top != self._last_commit or self._broken):
            hold.committed = True
            self._last_commit = top
            self._commit_place = _hand_place(box) if box is not None else None
            self._broken = False
            letter = CLASS_LETTERS[top]
            self._word.append(Letter(letter, (hold.prob_sum / hold.frames).astype(np.float32), t))
            committed = (letter,)
        if hold.committed or (top == self._last_commit and not self._broken):
            progress = 1.0
        else:
            progress = min(1.0, hold.span_ms / s.settle_ms) if s.settle_ms else 1.0
        return Step(committed, CLASS_LETTERS[top], round(progress, 3))

    def _motion(self, t: float, letter: str, box: Sequence[float] | None) -> Step:
        """A motion letter: committed once per stroke (not again within motion_ms), taking
        back what committed in the motion_ms before it."""
        s = self.settings
        if self._motion_t is not None and (t - self._motion_t) * 1000.0 < s.motion_ms:
            return Step(reading=letter, hold=1.0)
        retract = 0
        while self._word and (t - self._word[-1].t) * 1000.0 < s.motion_ms:
            self._word.pop()
            retract += 1
        self._word.append(Letter(letter, np.zeros(NUM_CLASSES, np.float32), t))
        self._motion_t = t
        self._hold = None
        self._last_commit = None
        self._commit_place = _hand_place(box) if box is not None else None
        self._broken = False
        return Step((letter,), reading=letter, hold=1.0, retract=retract)

    def _moved(self, t: float, box: Sequence[float] | None) -> bool:
        """Whether the hand moved (`_apart`) since any frame of the last move_window_ms (or
        since the frame before); False without a box."""
        if box is None:
            self._places.clear()
            return False
        place = _hand_place(box)
        window = self.settings.move_window_ms / 1000.0
        while len(self._places) > 1 and t - self._places[0][0] > window:
            self._places.popleft()
        moved = any(self._apart(place, seen) for _, seen in self._places)
        if moved:
            self._places.clear()
        self._places.append((t, place))
        return moved

    def _away_from_commit(self, box: Sequence[float] | None) -> bool:
        """Whether the hand is apart (`_apart`) from where the last letter committed (a
        slide, or the bottom of a bounce); True when that is unknown."""
        if box is None or self._commit_place is None:
            return True
        return self._apart(_hand_place(box), self._commit_place)

    def _apart(self, a: Place, b: Place) -> bool:
        """Whether two places of the hand differ: its center moved more than move_fraction of
        its size, or its size changed by more than resize_fraction (closer, farther)."""
        small, large = sorted((a[2], b[2]))
        return bool(np.hypot(a[0] - b[0], a[1] - b[1]) > self.settings.move_fraction * small
                    or large > (1 + self.settings.resize_fraction) * small)

    def _no_hand(self, t: float) -> Step:
        self._hold = None
        self._places.clear()
        self._broken = True
        if self._no_hand_since is None:
            self._no_hand_since = t
        if self._word and (t - self._no_hand_since) * 1000.0 >= self.settings.word_end_ms:
            return Step(word=self.end_word())
        return Step()

    def end_word(self) -> tuple[Letter, ...] | None:
        """End the word in progress now (the user pressed Space); its letters, or None."""
        word, self._word = tuple(self._word), []
        self._last_commit = None
        return word or None
