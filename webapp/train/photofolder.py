"""`<LETTER>/<image>` photo folders: listing, sources, and reading every photo through a
model's spec (ModelSpec.read) with the hand boxes `signlive locate` cached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from webapp.files import DataError, photo_line
from webapp.model import letters
from webapp.model.preprocess import FrameError
from webapp.model.spec import ModelSpec, Sample
from webapp.train.dataset import Dataset
from webapp.train.locate import BoxCache
from webapp.train.signmnist import is_csv_folder

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_source(path: str | os.PathLike) -> str:
    """The source of a photo: its file name before the last `_` (`A/hackmit_12.jpg` -> hackmit)."""
    stem = Path(path).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else ""


def list_photos(folder: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    """([(photo, class)], ["path: why skipped"]) for a `<LETTER>/<image>` folder, sorted."""
    found: list[tuple[Path, int]] = []
    skipped: list[str] = []
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith(".") or not sub.is_dir():
            continue  # README.md, manifest.csv, hidden files
        try:
            label = letters.letter_to_class(sub.name) if len(sub.name) == 1 else -1
        except ValueError:
            label = -1
        if label < 0:
            skipped.append(f"{sub}: not a letter folder (A-Y without J)")
            continue
        for item in sorted(sub.iterdir()):
            if item.name.startswith("."):
                continue
            if item.suffix.lower() in PHOTO_SUFFIXES and item.is_file():
                found.append((item, label))
            else:
                skipped.append(f"{item}: not a .jpg, .jpeg or .png file")
    return found, skipped


NO_BOX = "no hand box yet"  # the reason _load_photo gives for a photo `signlive locate` missed


def _load_photo(
    item: Path, spec: ModelSpec, boxes: BoxCache | None
) -> tuple[Sample | None, str, str]:
    """(model inputs or None, sha256 of the bytes, reason when None). With `boxes` (crop
    "hand"), the photo is read with its cached hand box and landmarks, or as a frame without a
    hand where the locator found none: exactly what the live server does with a frame."""
    try:
        data = item.read_bytes()
    except OSError as exc:
        return None, "", f"cannot read: {exc.strerror or exc}"
    digest = hashlib.sha256(data).hexdigest()
    box = hand = None
    if boxes is not None:
        if digest not in boxes:
            return None, digest, NO_BOX
        box, hand = boxes.get(digest), boxes.hand(digest)
    try:
        return spec.read(data, box, hand), digest, ""
    except FrameError as exc:
        return None, digest, exc.message


def load_photo_folder(
    folder: str | os.PathLike,
    spec: ModelSpec,
    limit: int = 0,
    sources: Callable[[str], bool] | None = None,
    boxes: BoxCache | None = None,
) -> Dataset:
    """A `<LETTER>/<image>` folder as a Dataset, every image read through `spec` (ModelSpec.read).

    A hand-crop spec reads each photo with the hand box and landmarks that `signlive locate`
    cached for it (`boxes`, default: the signlive cache), as a frame without a hand where no
    hand was found; a guide-crop spec takes the guide square of every photo. Only photos whose
    source passes `sources` are read (a held-out source is never even decoded for training).
    Unusable images are listed in Dataset.skipped ("path: reason") so a collection with a few
    broken files still evaluates; a folder without a single usable image is a DataError, and
    so is a photo the locator has not seen yet.
    With limit > 0, only `limit` files are read, evenly spread over the sorted list (so every
    letter shows up); unusable ones among them are skipped, not replaced.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: photo folder not found")
    if limit < 0:
        raise DataError(f"limit must be 0 (all) or positive, got {limit}")
    if spec.reads_hand_box and boxes is None:
        boxes = BoxCache.load()
    found, skipped = list_photos(folder)
    if sources is not None:
        found = [(item, label) for item, label in found if sources(photo_source(item))]
    if limit and limit < len(found):
        keep = np.unique(np.linspace(0, len(found) - 1, limit).round().astype(int))
        found = [found[i] for i in keep]
    use_boxes = boxes if spec.reads_hand_box else None
    workers = min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # cv2 decodes without the GIL
        results = list(pool.map(
            lambda item: _load_photo(item[0], spec, use_boxes), found))
    unlocated = sum(reason == NO_BOX for _, _, reason in results)
    if unlocated:
        raise DataError(
            f"{folder}: {unlocated} of {len(found)} photos have no hand box yet; run "
            f"`signlive locate {folder}` first (it finds the hands in headless Chromium, once)")
    images: list[np.ndarray] = []
    labels: list[int] = []
    paths: list[str] = []
    shapes: list[np.ndarray] = []
    hands = 0
    digest = hashlib.sha256()
    for (item, label), (sample, file_digest, reason) in zip(found, results, strict=True):
        if sample is None:
            skipped.append(f"{item}: {reason}")
            continue
        hands += use_boxes is not None and use_boxes.get(file_digest) is not None
        if use_boxes is not None:
            shapes.append(sample.handshape)
        images.append(sample.image)
        labels.append(label)
        paths.append(str(item))
        digest.update(photo_line(item.relative_to(folder).as_posix(), file_digest))
    if not images:
        detail = f"; e.g. {skipped[0]}" if skipped else ""
        raise DataError(
            f"{folder}: no usable images (expected <LETTER>/<name>.jpg|.jpeg|.png){detail}"
        )
    sources = [photo_source(p) for p in paths]
    return Dataset(
        x=np.stack(images).astype(np.float32, copy=False),
        y=np.asarray(labels, np.int32),
        paths=paths,
        sources=sources if any(sources) else None,
        description=(
            f"{folder} ({len(images)} photos, {len(skipped)} skipped, "
            + (f"hand crop, hand found in {hands}" if use_boxes is not None
               else f"crop {spec.crop_fraction:.3f}")
            + f", {spec.input_size}x{spec.input_size})"
        ),
        sha256=digest.hexdigest(),
        skipped=skipped,
        handshape=np.stack(shapes) if shapes else None,
    )


def is_photo_folder(path: str | os.PathLike) -> bool:
    """A folder with `<LETTER>/` subfolders and no Sign MNIST CSVs."""
    path = Path(path)
    return path.is_dir() and not is_csv_folder(path) and any(
        sub.is_dir() and len(sub.name) == 1 for sub in path.iterdir())
