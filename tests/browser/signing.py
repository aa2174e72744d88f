"""Words signed by people the model never saw, as a fake camera shows them: for the browser
test that spells a word at 1 letter a second and for bench/spelling_rate.py.

Each word is signed by one held-out source of the photo split: each letter is a photo of that
source shown whole (person, room and hand, in color); between two letters the picture blends
into the next over BLEND_S while the hand shifts a little (what a camera sees of a hand moving
between letters: never a clean cut); a double letter is two different photos of the letter,
the second of a hand the first one's size, with a slide of SLIDE hand sizes between them that
stays in the camera's view; no pause between letters. After each word the hand drops for
PAUSE_S (a room). Each frame carries its index in a strip of black and white squares in the
top-left corner (`stamp`), so a server can tell which moment of the video every frame it
answers belongs to (`read_stamp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rooms import SceneError, as_sent, camera_frame, letter_photos, locate_images
from y4m import write_y4m

THRESHOLD = 0.6  # the server's default confidence threshold
VIDEO_FPS = 20
BLEND_S = 0.15  # a letter blends into the next over this long, the hand shifting
SHIFT = 0.15  # the hand lands up to this many hand sizes from where the photo has it
SLIDE = 0.6  # a double letter's slide, in hand sizes
LEAD_S = 2.0  # an empty room before the first word
PAUSE_S = 1.5  # ... and after each word (the hand dropped)
PER_SOURCE = 6  # photos of each letter tried from each source
MARK_BITS, MARK_BLOCK = 14, 12  # the frame index: 14 bits in 12 px squares (+ white, black)


def stamp(frame: np.ndarray, index: int) -> np.ndarray:
    """Write `index` into the frame's top-left corner: MARK_BITS squares (white = 1), then a
    white and a black reference square."""
    bits = [(index >> k) & 1 for k in range(MARK_BITS)] + [1, 0]
    for k, bit in enumerate(bits):
        x = 4 + k * MARK_BLOCK
        frame[4 : 4 + MARK_BLOCK, x : x + MARK_BLOCK] = 255 if bit else 0
    return frame


def read_stamp(image: bytes, camera_width: int = 640) -> int | None:
    """The frame index stamped into an encoded frame as the page sent it (any scale)."""
    gray = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return None
    scale = gray.shape[1] / camera_width
    values = []
    for k in range(MARK_BITS + 2):
        cx = (4 + k * MARK_BLOCK + MARK_BLOCK / 2) * scale
        cy = (4 + MARK_BLOCK / 2) * scale
        r = max(1, int(MARK_BLOCK * scale / 4))
        values.append(float(gray[int(cy) - r : int(cy) + r, int(cx) - r : int(cx) + r].mean()))
    white, black = values[-2], values[-1]
    if white - black < 60:
        return None
    middle = (white + black) / 2
    return sum(1 << k for k, v in enumerate(values[:MARK_BITS]) if v > middle)


@dataclass(frozen=True)
class Shot:
    """One photo as the camera shows it: the BGR frame, the hand's size and center in it
    (camera pixels)."""

    path: str
    frame: np.ndarray
    hand: float
    center: tuple[float, float]


@dataclass(frozen=True)
class WordSpan:
    """Where a word sits in its video (seconds): its letters' slots, then the hand dropped."""

    word: str
    source: str
    start: float
    end: float
    next_start: float
    photos: tuple[str, ...]


def shifted(frame: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    matrix = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]),
                          borderMode=cv2.BORDER_REPLICATE)


def slide_to(x: float, hand: float, width: int, i: int) -> float:
    """Where a double letter's second hand lands (camera x): SLIDE hand sizes beside the first
    at `x`, to the right for the word's odd letters and the left for its even ones, unless that
    side takes more of the hand out of the frame than the other (a signer slides within the
    camera's view, not off it)."""

    def outside(at: float) -> float:
        return max(0.0, hand / 2 - at) + max(0.0, at + hand / 2 - width)

    side = 1 if i % 2 else -1
    there, other = x + side * SLIDE * hand, x - side * SLIDE * hand
    return other if outside(other) < outside(there) else there


def render(path: Path, words: Sequence[tuple[str, str, Sequence[Shot]]], room: np.ndarray,
           pace: float, seed: int = 0) -> tuple[Path, list[WordSpan], float]:
    """The .y4m of `words` ((word, source, one Shot per letter)) at `pace` letters a second;
    its word spans and length in seconds."""
    rng = np.random.default_rng(seed)
    # Keys: (picture, its offset (dx, dy) in px, how long it is shown before blending on).
    keys: list[tuple[np.ndarray, tuple[float, float], float]] = [
        (room, (0.0, 0.0), LEAD_S - BLEND_S)]
    spans = []
    t = LEAD_S
    for word, source, shots in words:
        start = t
        for i, shot in enumerate(shots):
            if i and word[i] == word[i - 1]:
                # A double letter: this photo's hand lands where the last one's was, slid
                # sideways by SLIDE hand sizes (`slide_to`).
                last, (lx, ly) = shots[i - 1], keys[-1][1]
                x = slide_to(last.center[0] + lx, shot.hand, shot.frame.shape[1], i)
                offset = (x - shot.center[0], last.center[1] + ly - shot.center[1])
            else:
                offset = tuple(float(v) * shot.hand for v in rng.uniform(-SHIFT, SHIFT, 2))
            keys.append((shot.frame, offset, 1.0 / pace - BLEND_S))
            t += 1.0 / pace
        keys.append((room, (0.0, 0.0), PAUSE_S - BLEND_S))
        spans.append(WordSpan(word, source, start, t, t + PAUSE_S,
                              tuple(shot.path for shot in shots)))
        t += PAUSE_S
    total = t

    def frames():
        # Each key ends on the frame nearest its planned time, so rounding never adds up
        # (1/3 s a letter is not a whole number of frames): the video keeps to the spans.
        index, clock = 0, 0.0
        steps = max(1, round(BLEND_S * VIDEO_FPS))
        for k, (picture, offset, hold) in enumerate(keys):
            after, after_offset, _ = keys[(k + 1) % len(keys)]
            clock += hold
            for _ in range(max(1, round(clock * VIDEO_FPS) - index)):
                yield stamp(shifted(picture, offset), index)
                index += 1
            clock += steps / VIDEO_FPS
            for s in range(steps):
                a = (s + 1) / (steps + 1)
                move = (offset[0] + a * (after_offset[0] - offset[0]),
                        offset[1] + a * (after_offset[1] - offset[1]))
                mixed = cv2.addWeighted(shifted(picture, move), 1 - a, shifted(after, move), a, 0)
                yield stamp(mixed, index)
                index += 1

    return write_y4m(path, frames(), VIDEO_FPS), spans, total


# --- the photos ------------------------------------------------------------------------------

def readable_photos(photos: Path, letters: set[str], workdir: Path, model_path: Path,
                    sources: Sequence[str] | None = None, per_source: int = PER_SOURCE,
                    log=print) -> dict[tuple[str, str], list[Shot]]:
    """{(source, letter): [Shot, ...]}: photos of the held-out sources (or `sources`) that the
    page's locator finds a hand in and the model reads right (>= THRESHOLD) from what the page
    would send of them."""
    from webapp.model.letters import letter_to_class
    from webapp.model.registry import load_model_file
    from webapp.train import splits
    from webapp.train.evaluation import predict_probs

    sources = sorted(sources or splits.load().held_out)
    candidates = {f"{letter}/{path.name}": (source, letter, path)
                  for source in sources for letter in sorted(letters)
                  for path in letter_photos(photos, letter, [source], per_source)}
    sent = {key: as_sent(camera_frame(path)) for key, (_, _, path) in candidates.items()}
    log(f"locating the hand in {len(sent)} photos (the page's locator, headless)...")
    found = locate_images(sent, workdir)
    keys = [key for key in candidates if found[key].box is not None]
    if not keys:
        return {}
    loaded = load_model_file(model_path)
    samples = [loaded.spec.read(sent[k], found[k].box, found[k].hand) for k in keys]
    probs = predict_probs(loaded.model, np.stack([s.image for s in samples]),
                          handshape=np.stack([s.handshape for s in samples]))
    pool: dict[tuple[str, str], list[Shot]] = {}
    for key, p in zip(keys, probs, strict=True):
        source, letter, path = candidates[key]
        cls = letter_to_class(letter)
        if int(p.argmax()) == cls and p[cls] >= THRESHOLD:
            frame = camera_frame(path)
            scale = frame.shape[1] / 480  # the box is in the sent frame's pixels
            x, y, w, h = (v * scale for v in found[key].box)
            pool.setdefault((source, letter), []).append(
                Shot(str(path), frame, max(w, h), (x + w / 2, y + h / 2)))
    return pool


def assign(words: Sequence[str], pool: dict[tuple[str, str], list[Shot]],
           seed: int = 0, first: int = 0) -> list[tuple[str, str, list[Shot]]]:
    """Each word signed by one source (taken in turn from the `first`), with a different
    photo for each occurrence of a letter; a source that lacks them for the word is skipped.
    Raises SceneError when no source has them all."""
    sources = sorted({source for source, _ in pool})
    rng = np.random.default_rng(seed)
    plan = []
    for n, word in enumerate(words):
        for k in range(len(sources)):
            source = sources[(first + n + k) % len(sources)]
            # Sorted: a set's order follows string hashing, which changes between processes.
            counts = {c: word.count(c) for c in sorted(set(word))}
            if all(len(pool.get((source, c), [])) >= m for c, m in counts.items()):
                picks = {c: [pool[(source, c)][j] for j in rng.permutation(len(pool[(source, c)]))]
                         for c in counts}
                shots: list[Shot] = []
                for i, c in enumerate(word):
                    if i and c == word[i - 1]:
                        # A double letter is the same hand twice: the photo whose hand is
                        # nearest the first one's in size (not one twice as near the camera).
                        last = shots[-1].hand
                        picks[c].sort(key=lambda shot: -abs(np.log(shot.hand / last)))
                    shots.append(picks[c].pop())
                plan.append((word, source, shots))
                break
        else:
            raise SceneError(f"no source has photos the model reads right for every letter "
                             f"of {word} (a double letter needs two different photos)")
    return plan
