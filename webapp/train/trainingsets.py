"""What a run trains, validates and tests on: a CSV folder, a photo folder (by the named
split's sources), or both; any data folder for evaluation (load_dataset); tf.data input.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from webapp.files import DataError
from webapp.model.spec import ModelSpec
from webapp.train import splits
from webapp.train.dataset import Dataset
from webapp.train.photofolder import load_photo_folder
from webapp.train.signmnist import SIGN_MNIST_SPEC, csv_file_dataset, is_csv_folder, load_split
from webapp.train.splits import DEFAULT_SPLIT


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
        return csv_file_dataset(path, spec.input_size, limit)
    if not path.exists():
        raise DataError(f"{path}: data folder not found")
    if is_csv_folder(path):
        return load_split(path, split, size=spec.input_size, limit=limit)
    return load_photo_folder(path, spec, limit=limit, sources=sources)


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
    if csv_dir is not None and not is_csv_folder(csv_dir):
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
