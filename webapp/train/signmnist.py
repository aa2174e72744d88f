"""Sign Language MNIST: the CSVs (plain or .gz), parsed, checked, cached and resized.

The CSV parser is numpy's C `loadtxt` (about half a second for the 27,455-row training file);
validation is vectorised over the parsed array, and only when something is wrong do we look
closer to name the first bad line. A parsed copy is cached (keyed by the file's sha256) in a
user cache folder, never inside the repository, so later loads take a few milliseconds.
Also the dashboard's row counts of the CSVs (summary).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from webapp.files import DataError, cache_dir, file_sha256
from webapp.model import letters
from webapp.model.letters import CLASS_LETTERS
from webapp.model.preprocess import scale_pixels
from webapp.model.spec import ModelSpec
from webapp.train.dataset import Dataset

SPLITS = ("train", "test")
IMAGE_SIDE = 28


NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
SIGN_MNIST_SPEC = ModelSpec(input_size=IMAGE_SIDE)  # the CSVs as they are: 28x28, no crop


HEADER = ("label",) + tuple(f"pixel{i}" for i in range(1, NUM_PIXELS + 1))
CACHE_VERSION = 1


_GZIP_MAGIC = b"\x1f\x8b"


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


def csv_file_dataset(path: Path, size: int, limit: int) -> Dataset:
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
    return csv_file_dataset(split_path(data_dir, split), size, limit)


def is_csv_folder(folder: Path) -> bool:
    names = [f"sign_mnist_{split}{ext}" for split in SPLITS for ext in (".csv", ".csv.gz")]
    return any((folder / name).is_file() for name in names)


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


def letter_samples(data_dir: str | Path, per_letter: int = 1) -> list[tuple[np.ndarray, str]]:
    """The first `per_letter` test-split images of each letter: [(uint8 28x28, letter)]."""
    x, y = load_csv(split_path(data_dir, "test"))
    samples = []
    for cls, letter in enumerate(CLASS_LETTERS):
        for index in np.flatnonzero(y == cls)[:per_letter]:
            samples.append((x[index], letter))
    return samples
