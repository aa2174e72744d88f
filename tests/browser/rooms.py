"""Camera scenes from real held-out photos, for the browser tests and bench/empty_room.py.

- `empty_rooms`: hand-free scenes. For each held-out raw-webcam source of the photo split
  (never trained on), the page's own hand locator (`signlive locate`, run on a temporary
  folder with a temporary cache) finds the hand in a few of its photos; the room is the 4:3
  region of such a photo, clear of the square the server would crop around that hand (and of
  the arm below it), where the source's photos change least from one to the next (a wall, a
  ceiling: not the signer, who moves), scaled up to the camera size. Plus one synthetic room.
  On request also 'person, no hand' scenes: the largest region clear of the hand, which in a
  webcam photo is mostly the signer's head and shoulders.
- `camera_frame` / `as_sent` / `locate_images`: a whole photo as the fake camera shows it,
  what the page sends of it, and the page's locator run on such pictures.
- `WATCH` / `READ_WATCH`: what the page predicted and spelled since a point in time.

Photos are read from the photo folder (../shared/photos or $SIGNLIVE_PHOTOS) at run time and
only ever copied to temporary folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import pytest
from y4m import FPS, HEIGHT, WIDTH, write_y4m

from webapp.model.preprocess import hand_square

ROOT = Path(__file__).resolve().parents[2]
ASPECT = WIDTH / HEIGHT
# A room is this fraction of its photo's width: at 224 px, 74 x 55 px of wall (about what the
# guide square of a 640x480 camera takes in at 28x28 input, so little detail is invented).
ROOM_FRACTION = 1 / 3
PHOTOS_PER_SOURCE = 6  # photos of each source given to the locator
STILLNESS_PHOTOS = 48  # photos of each source that show where its room stays still
NOISE_SIGMA = 2.0  # sensor noise added to each video frame (gray levels), so frames differ
LOCATE_TIMEOUT_S = 300


class SceneError(RuntimeError):
    """Scenes cannot be built here (the locator failed, a photo cannot be read)."""


@dataclass(frozen=True)
class Room:
    name: str  # "kynmiiso room (I/kynmiiso_1.jpg)", "synthetic room"
    kind: str  # "room", "person" (the signer, no hand) or "synthetic"
    frame: np.ndarray  # gray uint8 (HEIGHT, WIDTH)
    region: tuple[int, int, int, int] | None = None  # x, y, w, h cut from the photo
    box: tuple[int, int, int, int] | None = None  # the hand found in the photo


def model_under_test() -> Path:
    """The model the browser tests serve: models/default.keras, or another through the app's
    own settings ($SIGNLIVE_MODELS for the folder, $SIGNLIVE_MODEL for the name)."""
    from webapp import config

    name = os.environ.get("SIGNLIVE_MODEL") or config.DEFAULT_MODEL_NAME
    return config.models_dir() / f"{name}.keras"


def photos_for_scenes(model: Path) -> Path:
    """The photo folder for a test that plays photos to the page with `model` served;
    skips the test, naming why, when the photos, the model or Debian's chromium is missing."""
    from chromium import CHROMIUM

    from webapp import config

    photos = config.photos_dir()
    if not photos.is_dir():
        pytest.skip(f"{photos} is missing (the photo folder is ../shared/photos or "
                    "$SIGNLIVE_PHOTOS)")
    if not model.exists():
        pytest.skip(f"{model} is not there yet (the shipped model is trained separately)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser-deps` installs it")
    return photos


# --- the page's locator on pictures --------------------------------------------------------------

def held_out_webcam_sources() -> list[str]:
    """The held-out raw-webcam sources of the default photo split (person, room, webcam)."""
    from webapp.train import splits

    split = splits.load()
    return sorted(split.held_out & split.raw_webcam)


class Located(NamedTuple):
    """What `signlive locate` found in one image: the hand box ([x, y, w, h] in its pixels)
    and the landmarks (webapp.model.handshape.Hand), or None for both when no hand was found."""

    box: tuple | None
    hand: Any


def locate_images(images: dict[str, bytes], workdir: Path) -> dict[str, Located]:
    """{"<LETTER>/<name>.jpg": encoded bytes} -> what `signlive locate` finds in each, run on
    a folder and cache under `workdir`."""
    from webapp.files import file_sha256
    from webapp.train.locate import BoxCache

    folder = workdir / "photos"
    for rel, data in images.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    cache = workdir / "hand-boxes.json"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "locate", str(folder), "--cache", str(cache),
             "--jobs", "1"],
            cwd=ROOT, capture_output=True, text=True, timeout=LOCATE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SceneError(f"signlive locate took over {LOCATE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise SceneError(f"signlive locate failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-500:]}")
    boxes = BoxCache.load(cache)
    digests = {rel: file_sha256(folder / rel) for rel in images}
    return {rel: Located(boxes.get(d), boxes.hand(d)) for rel, d in digests.items()}


# --- empty rooms ---------------------------------------------------------------------------------

def clear_of_hand(region: Sequence[int], box: Sequence[int], height: int, width: int) -> bool:
    """Whether region [x, y, w, h] stays clear of the square the server would crop around the
    hand `box`, and of the column below that square (where the arm is)."""
    sq = hand_square(box, height, width)
    x, y, w, h = region
    return x + w <= sq.x or x >= sq.x + sq.side or y + h <= sq.y


def stillness(paths: Sequence[Path]) -> np.ndarray | None:
    """Per pixel, how much one source's photos differ (std of gray, blurred): low where the
    room is, high where the signer and the hands move from photo to photo. None when the
    photos do not share one size."""
    photos = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    photos = [p for p in photos if p is not None]
    if len(photos) < 2 or len({p.shape for p in photos}) != 1:
        return None
    spread = np.stack(photos).astype(np.float32).std(axis=0)
    return cv2.GaussianBlur(spread, (0, 0), 2)


def still_region(motion: np.ndarray, box: Sequence[int],
                 fraction: float = ROOM_FRACTION) -> tuple[float, tuple[int, int, int, int]] | None:
    """(mean motion, [x, y, w, h]): the 4:3 region `fraction` of the photo wide, clear of the
    hand `box` (clear_of_hand), where the source's photos change least: the room, without
    the signer. None if no such region fits."""
    height, width = motion.shape
    w = int(width * fraction)
    h = int(w / ASPECT)
    if h > height:
        return None
    sums = cv2.integral(motion)
    best = None
    for y in range(0, height - h + 1, 2):
        for x in range(0, width - w + 1, 2):
            if not clear_of_hand((x, y, w, h), box, height, width):
                continue
            mean = (sums[y + h, x + w] - sums[y, x + w] - sums[y + h, x] + sums[y, x]) / (w * h)
            if best is None or mean < best[0]:
                best = (float(mean), (x, y, w, h))
    return best


def free_region(box: Sequence[int], height: int, width: int) -> tuple[int, int, int, int] | None:
    """The largest 4:3 region [x, y, w, h] at the top of a photo, clear of the hand `box`
    (clear_of_hand): left of it, right of it or above it. In a raw-webcam photo this is
    mostly the signer: the 'person, no hand' scenes. None if it is under ROOM_FRACTION of
    the photo wide."""
    sq = hand_square(box, height, width)
    left, right, top = sq.x, sq.x + sq.side, sq.y
    hand_on_the_left = left + sq.side / 2 < width / 2
    options = []
    # (strip left, strip right, strip bottom, flush with the strip's left edge?)
    for x0, x1, y1, flush_left in ((0, left, height, True), (right, width, height, False),
                                   (0, width, top, not hand_on_the_left)):
        w = min(x1 - x0, int(y1 * ASPECT))
        h = int(w / ASPECT)
        if w > 0 and h > 0:
            options.append((w * h, (x0 if flush_left else x1 - w, 0, w, h)))
    if not options:
        return None
    _, region = max(options)
    return region if region[2] >= ROOM_FRACTION * width else None


def synthetic_room(seed: int = 7) -> np.ndarray:
    """A drawn room corner, gray (HEIGHT, WIDTH): two walls lit from a window, a door, a
    picture, a shelf with books, a floor with a skirting board, a faint texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    corner = int(WIDTH * 0.62)
    room = np.where(x < corner, 150 + 60 * x / corner, 190 - 50 * (x - corner) / (WIDTH - corner))
    room = room - 25 * (y / HEIGHT)  # the ceiling light falls off downwards
    floor = int(HEIGHT * 0.8)
    room[floor:] = 95 + 20 * np.sin(x[floor:] / 37.0)  # floorboards
    room[floor - 8 : floor] = 230  # skirting board
    room[int(HEIGHT * 0.2) : floor - 8, 40:150] = 120  # a door
    room[int(HEIGHT * 0.2) : floor - 8, 44:146] = 105
    cv2.circle(room, (135, int(HEIGHT * 0.5)), 5, 200, -1)  # its handle
    cv2.rectangle(room, (230, 90), (340, 170), 60, 6)  # a picture frame
    room[96:164, 236:334] = 170 - 40 * rng.random((68, 98)) ** 3
    cv2.rectangle(room, (corner + 20, 210), (WIDTH - 30, 218), 70, -1)  # a shelf
    for i, book_x in enumerate(range(corner + 30, WIDTH - 50, 14)):
        cv2.rectangle(room, (book_x, 160 + 7 * (i % 3)), (book_x + 10, 209),
                      int(rng.integers(40, 200)), -1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 4)
    room = room + 4 * texture / max(float(texture.std()), 1e-6)
    room = cv2.GaussianBlur(room.astype(np.float32), (0, 0), 1.2)
    return np.clip(room, 0, 255).astype(np.uint8)


def to_camera(picture: np.ndarray) -> np.ndarray:
    """A gray or BGR picture scaled to the camera size (WIDTH x HEIGHT), letterboxed if its
    aspect differs (the bars are black, as in a camera's own letterbox)."""
    height, width = picture.shape[:2]
    scale = min(WIDTH / width, HEIGHT / height)
    w, h = round(width * scale), round(height * scale)
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    scaled = cv2.resize(picture, (w, h), interpolation=interpolation)
    frame = np.zeros((HEIGHT, WIDTH, *picture.shape[2:]), np.uint8)
    top, left = (HEIGHT - h) // 2, (WIDTH - w) // 2
    frame[top : top + h, left : left + w] = scaled
    return frame


def spread_photos(photos_dir: Path, source: str, count: int) -> list[Path]:
    """`count` photos of one source spread over its letters (sorted, so always the same)."""
    found = sorted(photos_dir.glob(f"*/{source}_*.jpg"))
    step = max(1, len(found) // max(count, 1))
    return found[::step][:count]


def empty_rooms(photos_dir: Path | None, workdir: Path, *, people: bool = False,
                per_source: int = PHOTOS_PER_SOURCE) -> list[Room]:
    """For each held-out raw-webcam source, a room: the still region (still_region) of one of
    its photos in which the page's locator found the hand, clear of that hand; with
    `people`, also a 'person, no hand' scene from the same photo (free_region). Then the
    synthetic room. Without a photo folder: the synthetic room only. Raises SceneError when
    the photos are there but the locator cannot run."""
    rooms: list[Room] = []
    if photos_dir is not None and photos_dir.is_dir():
        sources = held_out_webcam_sources()
        candidates = {src: spread_photos(photos_dir, src, per_source) for src in sources}
        images = {f"{p.parent.name}/{p.name}": p.read_bytes()
                  for paths in candidates.values() for p in paths}
        found = locate_images(images, workdir) if images else {}
        boxes = {rel: located.box for rel, located in found.items()}
        people_rooms = []
        for source in sources:
            motion = stillness(spread_photos(photos_dir, source, STILLNESS_PHOTOS))
            located = [(p, boxes.get(f"{p.parent.name}/{p.name}")) for p in candidates[source]]
            # A photo without a hand found is never used: nothing proves a region hand-free.
            located = [(p, box) for p, box in located if box is not None]
            if motion is None or not located:
                continue
            options = [(still_region(motion, box), path, box) for path, box in located]
            options = [(found, path, box) for found, path, box in options if found is not None]
            if options:
                (_, (x, y, w, h)), path, box = min(options, key=lambda o: o[0][0])
                photo = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                rooms.append(Room(f"{source} room ({path.parent.name}/{path.name})", "room",
                                  to_camera(photo[y : y + h, x : x + w]), (x, y, w, h), box))
            if people:
                for path, box in located:
                    photo = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                    region = free_region(box, *photo.shape)
                    if region is not None:
                        x, y, w, h = region
                        people_rooms.append(Room(
                            f"{source} person ({path.parent.name}/{path.name})", "person",
                            to_camera(photo[y : y + h, x : x + w]), region, box))
                        break
        rooms.extend(people_rooms)
    rooms.append(Room("synthetic room", "synthetic", synthetic_room()))
    return rooms


def noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One camera frame of a still scene: the picture plus a little sensor noise."""
    return np.clip(frame + rng.normal(0, NOISE_SIGMA, frame.shape), 0, 255).astype(np.uint8)


def rooms_video(path: Path, frames: Iterable[np.ndarray], hold_s: float = 2.0,
                fps: int = FPS, seed: int = 0) -> Path:
    """A .y4m that shows each picture for hold_s (with sensor noise), in turn; the fake
    camera loops it."""
    rng = np.random.default_rng(seed)
    return write_y4m(path, (noisy(frame, rng) for frame in frames
                            for _ in range(max(1, round(hold_s * fps)))), fps)


def contact_sheet(rooms: Sequence[Room], path: Path) -> Path:
    """All rooms side by side at quarter size (what a person checks the rooms by)."""
    tiles = [cv2.resize(room.frame, (WIDTH // 4, HEIGHT // 4), interpolation=cv2.INTER_AREA)
             for room in rooms]
    cv2.imwrite(str(path), np.hstack(tiles))
    return path


# --- whole photos as the camera shows them -------------------------------------------------------

def camera_frame(photo_path: Path) -> np.ndarray:
    """A raw-webcam photo (person, room and hand) as the fake camera shows it: in color
    (BGR), WIDTH x HEIGHT (letterboxed if it is not 4:3)."""
    photo = cv2.imread(str(photo_path), cv2.IMREAD_COLOR)
    if photo is None:
        raise SceneError(f"{photo_path}: cannot be read")
    return to_camera(photo)


def letter_photos(photos_dir: Path, letter: str, sources: Iterable[str],
                  per_source: int) -> list[Path]:
    """Up to `per_source` photos of `letter` from each source, spread over its takes
    (sorted, so always the same)."""
    chosen = []
    for source in sources:
        found = sorted((photos_dir / letter).glob(f"{source}_*.jpg"))
        step = max(1, len(found) // max(per_source, 1))
        chosen.extend(found[::step][:per_source])
    return chosen


def as_sent(frame: np.ndarray, max_side: int = 480, quality: int = 70) -> bytes:
    """What the page sends of a camera frame: scaled to max_side on its long side, JPEG 0.7
    (capture.js; the server's MAX_SIDE default)."""
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    small = cv2.resize(frame, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SceneError("JPEG encoding failed")
    return data.tobytes()


# --- what the page did ---------------------------------------------------------------------------

# Installed once the page runs: from then on every answer and every appended letter is noted.
WATCH = """() => {
  const rec = window.signlive;
  const seen = {predictions: 0, errors: 0, letters: [], appended: [], maxConfidence: 0,
                sent0: rec.client.framesSent, boxed0: rec.client.framesWithBox,
                started: performance.now()};
  const handlers = rec.client.handlers;
  const onPrediction = handlers.onPrediction;
  const onError = handlers.onError;
  handlers.onPrediction = (p) => {
    seen.predictions += 1;
    if (p && typeof p.confidence === 'number') {
      seen.maxConfidence = Math.max(seen.maxConfidence, p.confidence);
    }
    if (p && p.letter) seen.letters.push([p.letter, p.confidence]);
    onPrediction(p);
  };
  handlers.onError = (e) => { seen.errors += 1; onError(e); };
  const onAppend = rec.onAppend;
  rec.onAppend = (letter) => { seen.appended.push(letter); if (onAppend) onAppend(letter); };
  window.signliveWatch = seen;
}"""

READ_WATCH = """() => {
  const rec = window.signlive;
  const seen = window.signliveWatch;
  return {predictions: seen.predictions, errors: seen.errors, letters: seen.letters,
          appended: seen.appended, maxConfidence: seen.maxConfidence,
          sent: rec.client.framesSent - seen.sent0,
          boxed: rec.client.framesWithBox - seen.boxed0,
          seconds: (performance.now() - seen.started) / 1000,
          transcript: document.getElementById('transcript').textContent,
          shown: document.querySelector('#prediction [data-role=letter]').textContent};
}"""

