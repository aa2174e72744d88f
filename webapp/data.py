"""Data sets: Sign Language MNIST CSVs (plain or .gz) and `<LETTER>/<image>` photo folders.

The CSV parser is numpy's C `loadtxt` (about half a second for the 27,455-row training file);
validation is vectorised over the parsed array, and only when something is wrong do we look
closer to name the first bad line. A parsed copy is cached (keyed by the file's sha256) in a
user cache folder, never inside the repository, so later loads take a few milliseconds.
Photos go through `preprocess.preprocess`, the same path a live frame takes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from webapp import letters
from webapp.files import DataError, cache_dir, file_sha256, photo_line
from webapp.locate import BoxCache
from webapp.preprocess import FrameError, scale_pixels
from webapp.spec import ModelSpec, Sample
from webapp.splits import DEFAULT_SPLIT

SPLITS = ("train", "test")
IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
SIGN_MNIST_SPEC = ModelSpec(input_size=IMAGE_SIDE)  # the CSVs as they are: 28x28, no crop
HEADER = ("label",) + tuple(f"pixel{i}" for i in range(1, NUM_PIXELS + 1))
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_VERSION = 1
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Dataset:
    """Model-ready images with their class indices and where they came from."""

    x: np.ndarray  # float32 (N, S, S, 1) in [0, 1]
    y: np.ndarray  # int32 class index 0-23
    paths: list[str] | None
    sources: list[str] | None
    description: str
    sha256: str
    skipped: list[str] = field(default_factory=list)  # "path: reason" for unusable photos
    # (N, handshape.FEATURES) hand-shape features of photos read with their hand boxes (zeros
    # where no hand was found); None for data without landmarks (Sign MNIST, guide crops).
    handshape: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])


# ---------------------------------------------------------------------------------------------
# CSV files


def split_path(data_dir: str | os.PathLike, split: str) -> Path:
    """The file of `split` in a data folder: sign_mnist_<split>.csv, else .csv.gz."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    for name in (f"sign_mnist_{split}.csv", f"sign_mnist_{split}.csv.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"{folder}: no sign_mnist_{split}.csv or sign_mnist_{split}.csv.gz "
        "(Kaggle's Sign Language MNIST; set SIGNLIVE_DATA or --data)"
    )


def _read_raw(path: Path) -> bytes:
    """The file's bytes as stored."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _gunzip(path: Path, raw: bytes) -> bytes:
    """Decompress when the bytes start with the gzip magic, whatever the file is called."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc})") from exc


def _check_header(path: Path, line: bytes) -> None:
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    names = [name.strip().strip('"').strip() for name in text.split(",")]
    if names[0].isdigit():
        raise DataError(f"{path}: line 1: no header; expected 'label,pixel1,...,pixel784'")
    if len(names) != len(HEADER):
        raise DataError(
            f"{path}: line 1: header has {len(names)} columns, expected {len(HEADER)} "
            "('label,pixel1,...,pixel784')"
        )
    for column, (got, want) in enumerate(zip(names, HEADER, strict=True), start=1):
        if got != want:
            raise DataError(
                f"{path}: line 1: header column {column} is {got[:40]!r}, expected {want!r}"
            )


def _line_problem(values: list[bytes]) -> str | None:
    """What is wrong with one split data line, or None (used only to name the first bad line)."""
    if len(values) != len(HEADER):
        return f"has {len(values)} columns, expected {len(HEADER)}"
    for column, token in enumerate(values, start=1):
        text = token.decode("utf-8", errors="replace").strip()
        try:
            value = int(text)
        except ValueError:
            return f"column {column}: {text[:20]!r} is not an integer"
        if column == 1 and not _valid_label(np.array([value]))[0]:
            return f"label {value} is not a static letter (labels are 0-24, never 9)"
        if column > 1 and not 0 <= value <= 255:
            return f"column {column} (pixel{column - 1}): value {value} is outside 0-255"
    return None


def _valid_label(labels: np.ndarray) -> np.ndarray:
    return (labels >= 0) & (labels <= 24) & (labels != 9)


def _first_bad_line(body: bytes) -> tuple[int, int, str] | None:
    """(0-based data line, its start offset, problem) of the first line loadtxt cannot parse.

    Vectorised: lines with the wrong number of commas, a byte that cannot be part of an
    integer, an empty field, or a run of 4+ digits are suspects; only suspects are split.
    """
    buf = np.frombuffer(body, np.uint8)
    newline = buf == ord("\n")
    ends = np.flatnonzero(newline)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [buf.size]))
    comma_pos = np.flatnonzero(buf == ord(","))
    commas = np.diff(np.searchsorted(comma_pos, np.concatenate(([0], ends))))
    suspect = commas != len(HEADER) - 1
    digit = (buf >= ord("0")) & (buf <= ord("9"))
    marks = [~(digit | newline | (buf == ord(",")))]  # signs, dots, letters, spaces
    if buf.size > 1:  # empty fields: ",," or a line starting/ending with a comma
        sep = ~digit
        pair = np.zeros(buf.size, bool)
        pair[1:] = sep[1:] & sep[:-1]
        marks.append(pair)
    if buf.size > 3:  # 4+ digits in a row: out of range (or zero-padded, checked below)
        run = np.zeros(buf.size, bool)
        run[3:] = digit[3:] & digit[2:-1] & digit[1:-2] & digit[:-3]
        marks.append(run)
    for mark in marks:
        hits = np.flatnonzero(mark)
        if hits.size:
            suspect[np.unique(np.searchsorted(ends, hits))] = True
    suspect[0] |= buf[0] == ord(",")
    for index in np.flatnonzero(suspect):  # usually the first one is the culprit
        problem = _line_problem(body[starts[index] : ends[index]].split(b","))
        if problem:
            return int(index), int(starts[index]), problem
    return None


def _load_table(body: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.int32, ndmin=2, comments=None)


def _check_table(path: Path, table: np.ndarray) -> None:
    """Column count, label and pixel ranges of parsed rows, vectorised; names the first bad line."""
    if table.shape[1] != len(HEADER):
        raise DataError(f"{path}: line 2: has {table.shape[1]} columns, expected {len(HEADER)}")
    bad_labels = np.flatnonzero(~_valid_label(table[:, 0]))
    bad_pixels = np.flatnonzero(((table[:, 1:] < 0) | (table[:, 1:] > 255)).any(axis=1))
    if bad_labels.size or bad_pixels.size:
        row = min(bad_labels[:1].tolist() + bad_pixels[:1].tolist())
        problem = _line_problem([str(v).encode() for v in table[row]])
        raise DataError(f"{path}: line {row + 2}: {problem}")


def _parse_csv(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    if not data.strip():
        raise DataError(f"{path}: line 1: file is empty")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    header, _, body = data.partition(b"\n")
    _check_header(path, header)
    body = body.rstrip(b"\n")
    if not body.strip():
        raise DataError(f"{path}: line 2: no data rows after the header")
    blank = body.find(b"\n\n")
    if blank >= 0:
        line = body.count(b"\n", 0, blank) + 3
        raise DataError(f"{path}: line {line}: empty line")
    try:
        table = _load_table(body)
    except ValueError as exc:
        located = _first_bad_line(body)
        if located is None:
            raise DataError(f"{path}: {exc}") from None
        index, start, problem = located
        if start:  # a range error on an earlier, parseable line comes first
            try:
                earlier = _load_table(body[:start])
            except ValueError:
                earlier = None
            if earlier is not None:
                _check_table(path, earlier)
        raise DataError(f"{path}: line {index + 2}: {problem}") from None
    _check_table(path, table)
    labels = table[:, 0]
    lookup = np.full(25, -1, np.int32)
    lookup[list(letters.VALID_LABELS)] = np.arange(letters.NUM_CLASSES, dtype=np.int32)
    x = table[:, 1:].astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return x, lookup[labels]


def _cache_file(digest: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"sign-mnist-{digest}-v{CACHE_VERSION}.npz"


def _read_cache(path: Path | None) -> tuple[np.ndarray, np.ndarray] | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            x, y = saved["x"], saved["y"]
    except (OSError, ValueError, KeyError, zlib.error):
        return None  # unreadable cache: parse again and overwrite it
    if x.dtype != np.uint8 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or y.shape != x.shape[:1]:
        return None
    return x, y.astype(np.int32)


def _write_cache(path: Path | None, x: np.ndarray, y: np.ndarray) -> None:
    """Atomic (temp file then rename); a cache that cannot be written is simply skipped."""
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            tmp = handle.name
            np.savez(handle, x=x, y=y)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def load_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A Kaggle Sign Language MNIST CSV (or .csv.gz) -> (uint8 (N, 28, 28), int32 class index).

    Raises DataError naming the file and the first bad line.
    """
    path = Path(path)
    raw = _read_raw(path)
    digest = hashlib.sha256(raw).hexdigest()
    cache = _cache_file(digest)
    cached = _read_cache(cache)
    if cached is not None:
        return cached
    x, y = _parse_csv(path, _gunzip(path, raw))
    _write_cache(cache, x, y)
    return x, y


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, 28, 28) -> (N, size, size) with preprocess's interpolation rule.

    Sign MNIST rows are already hand crops, so only the resize is shared with live frames.
    """
    if size == images.shape[1]:
        return images
    if size < 1:
        raise ValueError(f"input size must be positive, got {size}")
    if size < images.shape[1]:  # area interpolation only batches up to 4 channels
        return np.stack(
            [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images]
        )
    out = np.empty((images.shape[0], size, size), np.uint8)
    chunk = 128  # linear interpolation treats up to 128 images as the channels of one image
    for start in range(0, images.shape[0], chunk):
        block = np.ascontiguousarray(images[start : start + chunk].transpose(1, 2, 0))
        resized = cv2.resize(block, (size, size), interpolation=cv2.INTER_LINEAR)
        out[start : start + chunk] = resized.reshape(size, size, -1).transpose(2, 0, 1)
    return out


def _csv_dataset(path: Path, size: int, limit: int) -> Dataset:
    if limit < 0:
        raise DataError(f"limit must be 0 (all) or positive, got {limit}")
    x, y = load_csv(path)
    if limit:
        x, y = x[:limit], y[:limit]
    first = f", first {limit}" if limit else ""
    return Dataset(
        x=scale_pixels(resize_images(x, size)),
        y=y,
        paths=None,
        sources=None,
        description=f"{path} ({len(y)} rows{first}, {size}x{size})",
        sha256=file_sha256(path),
    )


def load_split(
    data_dir: str | os.PathLike, split: str, size: int = IMAGE_SIDE, limit: int = 0
) -> Dataset:
    """One split of a CSV data folder as model input (first `limit` rows when limit > 0)."""
    return _csv_dataset(split_path(data_dir, split), size, limit)


# ---------------------------------------------------------------------------------------------
# Photo folders


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


def _is_csv_folder(folder: Path) -> bool:
    names = [f"sign_mnist_{split}{ext}" for split in SPLITS for ext in (".csv", ".csv.gz")]
    return any((folder / name).is_file() for name in names)


def load_dataset(
    path: str | os.PathLike,
    split: str = "test",
    spec: ModelSpec = SIGN_MNIST_SPEC,
    limit: int = 0,
    sources: Callable[[str], bool] | None = None,
) -> Dataset:
    """A CSV data folder (its `split`), a single CSV file, or a `<LETTER>/<image>` photo folder
    (read through `spec`, only the photos whose source passes `sources`), as `spec`'s model
    takes them."""
    path = Path(path)
    if path.is_file():
        return _csv_dataset(path, spec.input_size, limit)
    if not path.exists():
        raise DataError(f"{path}: data folder not found")
    if _is_csv_folder(path):
        return load_split(path, split, size=spec.input_size, limit=limit)
    return load_photo_folder(path, spec, limit=limit, sources=sources)


def is_photo_folder(path: str | os.PathLike) -> bool:
    """A folder with `<LETTER>/` subfolders and no Sign MNIST CSVs."""
    path = Path(path)
    return path.is_dir() and not _is_csv_folder(path) and any(
        sub.is_dir() and len(sub.name) == 1 for sub in path.iterdir())


# ---------------------------------------------------------------------------------------------
# Splits, tf.data, dashboard helpers


def stratified_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out round(val_fraction x class count) of every class, chosen with `seed`.

    Both parts keep the original row order; the same seed always gives the same split.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]  # grouped by class, shuffled within
    classes, first, counts = np.unique(y[order], return_index=True, return_counts=True)
    rank = np.arange(len(y)) - np.repeat(first, counts)
    take = np.repeat(np.round(counts * val_fraction).astype(int), counts)
    is_val = np.zeros(len(y), bool)
    is_val[order[rank < take]] = True
    return x[~is_val], y[~is_val], x[is_val], y[is_val]


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


PHOTO_TEST_FRACTION = 0.2  # of a photo folder's images held out for the test, by source


def hold_out_sources(sources: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """A mask of whole sources, chosen with `seed`, holding about `fraction` of the items.

    Photos of one source share a person, a room and a camera; a test that shares sources with
    training measures memory of those, not reading new hands. Sources are drawn in a seeded
    order until the fraction is reached, always leaving at least one source for training.
    """
    names = sorted(set(sources))
    if len(names) < 2:
        raise DataError("holding out by source needs at least two sources")
    order = np.random.default_rng(seed).permutation(len(names))
    column = np.asarray(sources)
    mask = np.zeros(len(column), bool)
    for index in order[:-1]:
        if mask.mean() >= fraction:
            break
        mask |= column == names[index]
    return mask


@dataclass
class TrainingData:
    """What one training run reads: training and validation arrays, and its test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    test: Dataset
    sha256: str  # of the training data as stored (the train CSV, or the photo folder)
    description: str
    train_photos: list[str] = field(default_factory=list)  # the training photos' paths


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
    from webapp.preprocess import decode_gray, hand_square

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


def _subset(dataset: Dataset, mask: np.ndarray, description: str) -> Dataset:
    def pick(items: list[str] | None) -> list[str] | None:
        return None if items is None else [v for v, keep in zip(items, mask, strict=True) if keep]

    return Dataset(x=dataset.x[mask], y=dataset.y[mask], paths=pick(dataset.paths),
                   sources=pick(dataset.sources), description=description,
                   sha256=dataset.sha256,
                   handshape=None if dataset.handshape is None else dataset.handshape[mask])


def load_training_data(
    path: str | os.PathLike | None,
    spec: ModelSpec = SIGN_MNIST_SPEC,
    limit: int = 0,
    val_fraction: float = 0.1,
    seed: int = 0,
    photos: str | os.PathLike | None = None,
    split: str = DEFAULT_SPLIT,
) -> TrainingData:
    """What a run trains on: a CSV data folder, a photo folder, or both.

    CSV folder: its train split -> train + stratified validation; its test split is the test.
    Photo folder (`photos`, or `path` itself when it holds `<LETTER>/` folders), every photo
    read through `spec` like a frame: with the named `split`, its held-out
    sources are never read, its validation sources validate, the rest train; the test is the
    CSV test split, or for photos alone the validation sources. A photo folder without any
    validation source of the split holds out a seeded draw of its own sources instead (by
    file when it has only one); the split's held-out sources stay unread either way.
    """
    csv_dir = Path(path) if path is not None else None
    if csv_dir is not None and not csv_dir.is_dir():
        raise DataError(f"{csv_dir}: data folder not found")
    if csv_dir is not None and not _is_csv_folder(csv_dir):
        if photos is not None:
            raise DataError(f"{csv_dir}: no sign_mnist_train.csv(.gz) in it")
        if not any(sub.is_dir() and len(sub.name) == 1 for sub in csv_dir.iterdir()):
            raise DataError(f"{csv_dir}: neither sign_mnist_train.csv(.gz) nor <LETTER>/ photo "
                            "folders in it")
        csv_dir, photos = None, csv_dir
    if csv_dir is None and photos is None:
        raise DataError("nothing to train on: give a CSV data folder, a photo folder, or both")
    parts_x: list[np.ndarray] = []
    parts_y: list[np.ndarray] = []
    val_x: list[np.ndarray] = []
    val_y: list[np.ndarray] = []
    descriptions: list[str] = []
    shas: list[str] = []
    test: Dataset | None = None
    if csv_dir is not None:
        full = load_split(csv_dir, "train", size=spec.input_size, limit=limit)
        test = load_split(csv_dir, "test", size=spec.input_size)
        x_train, y_train, x_val, y_val = _validation_split(full.x, full.y, val_fraction, seed)
        parts_x.append(x_train)
        parts_y.append(y_train)
        val_x.append(x_val)
        val_y.append(y_val)
        descriptions.append(full.description)
        shas.append(full.sha256)
    if photos is not None:
        photo_train, photo_val, photo_test = _photo_sets(
            Path(photos), spec, limit, val_fraction, seed, split)
        parts_x.append(photo_train.x)
        parts_y.append(photo_train.y)
        val_x.append(photo_val.x)
        val_y.append(photo_val.y)
        descriptions.append(photo_train.description)
        shas.append(photo_train.sha256)
        if test is None:
            test = photo_test
    sha = shas[0] if len(shas) == 1 else hashlib.sha256("\n".join(shas).encode()).hexdigest()
    return TrainingData(np.concatenate(parts_x), np.concatenate(parts_y),
                        np.concatenate(val_x), np.concatenate(val_y), test, sha,
                        " + ".join(descriptions),
                        train_photos=list(photo_train.paths or []) if photos is not None else [])


def _validation_split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    if fraction > 0:
        return stratified_split(x, y, fraction, seed)
    return x, y, x[:0], y[:0]


def _photo_sets(
    folder: Path, spec: ModelSpec, limit: int, val_fraction: float, seed: int, split_name: str,
) -> tuple[Dataset, Dataset, Dataset]:
    """(train, validation, test) photo sets; see load_training_data."""
    from webapp import splits

    try:
        split = splits.load(split_name)
    except splits.SplitError as exc:
        raise DataError(str(exc)) from None
    photos = load_photo_folder(folder, spec, limit,
                               sources=lambda source: split.role(source) != "held_out")
    if set(photos.sources or ()) & split.validation:
        roles = np.array([split.role(source) for source in photos.sources or []])
        val = roles == "validation"
        if val.all():
            raise DataError(f"{folder}: only validation sources of split {split.name}; "
                            "nothing to train on")
        what = f"split {split.name}: train on {len(set(np.asarray(photos.sources)[~val]))} " \
               f"sources, validate on {len(set(np.asarray(photos.sources)[val]))}, " \
               f"{len(split.held_out)} held out unread"
        train = _subset(photos, ~val, f"{photos.description}, {what}")
        validation = _subset(photos, val, f"{folder}: validation sources of {split.name} "
                                          f"({int(val.sum())} photos)")
        return train, validation, validation
    # No validation source of the split here: hold out a seeded draw of this folder's own
    # sources (the split's held-out ones are still never read).
    if len(set(photos.sources or [])) >= 2:
        held = hold_out_sources(photos.sources, PHOTO_TEST_FRACTION, seed)
        how = f"sources {', '.join(sorted(set(np.asarray(photos.sources)[held])))}"
    else:
        order = np.arange(len(photos))
        _, _, held_idx, _ = stratified_split(order, photos.y, PHOTO_TEST_FRACTION, seed)
        held = np.isin(order, held_idx)
        how = "a stratified sample of files (one source only)"
    if held.all() or not held.any():
        raise DataError(f"{folder}: too few photos to hold out a test set "
                        f"({len(photos)} usable)")
    test = _subset(photos, held, f"{folder}: held-out test, {how} ({int(held.sum())} photos)")
    rest = _subset(photos, ~held, photos.description)
    x_train, y_train, x_val, y_val = _validation_split(rest.x, rest.y, val_fraction, seed)
    train = Dataset(x_train, y_train, None, None, rest.description, photos.sha256)
    validation = Dataset(x_val, y_val, None, None, f"{folder}: validation", photos.sha256)
    return train, validation, test


def to_tf_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0):
    """A batched, prefetching tf.data pipeline (reshuffled every epoch when `shuffle`)."""
    import tensorflow as tf  # only training needs TensorFlow; the dashboard does not

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


_ROWS_MEMO: dict[tuple[str, int, int], int] = {}


def count_rows(path: Path) -> int:
    """Data rows in a CSV(.gz), counted by newlines without parsing (for the dashboard)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _ROWS_MEMO:
        with path.open("rb") as handle:
            opener = gzip.open if handle.read(2) == _GZIP_MAGIC else open
        lines, last = 0, b"\n"
        with opener(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        _ROWS_MEMO[key] = max(0, lines + (last != b"\n") - 1)
    return _ROWS_MEMO[key]


def summary(data_dir: str | os.PathLike) -> dict:
    """Where the data is and how many rows each split has, or what is missing (no parsing)."""
    result: dict = {"ok": False, "path": str(data_dir), "train_rows": 0, "test_rows": 0}
    try:
        rows = {split: count_rows(split_path(data_dir, split)) for split in SPLITS}
    except DataError as exc:
        result["message"] = str(exc)
        return result
    except (OSError, EOFError, zlib.error) as exc:
        result["message"] = f"{data_dir}: cannot read the data: {exc}"
        return result
    result.update(train_rows=rows["train"], test_rows=rows["test"])
    if not all(rows.values()):
        result["message"] = f"{data_dir}: a data file has no rows"
        return result
    result["ok"] = True
    result["message"] = f"{rows['train']:,} training and {rows['test']:,} test rows in {data_dir}"
    return result


def class_counts(y: Sequence[int] | np.ndarray) -> dict[str, int]:
    """{letter: count} for a vector of class indices (used in reports)."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=letters.NUM_CLASSES)
    return {letter: int(c) for letter, c in zip(letters.CLASS_LETTERS, counts, strict=False)}
