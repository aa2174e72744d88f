"""Scoring a model on a Dataset: accuracy, per-class precision/recall/F1, confusion matrix.

Training (test accuracy in the metadata), `signlive evaluate` and the admin dashboard all
read the same result dict, so its keys are a contract (see DESIGN.md / the team brief).
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from webapp.files import DataError
from webapp.model.letters import CLASS_LETTERS, NUM_CLASSES
from webapp.model.nets import image_input_shape, model_inputs
from webapp.train.dataset import Dataset
from webapp.train.negatives import hand_free_images
from webapp.train.trainingsets import load_dataset


def predict_probs(model, x: np.ndarray, batch_size: int = 256,
                  handshape: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities (N, 24) from the model's compiled forward pass, in batches; a
    fused model also gets the images' hand-shape features (None: no hand in any)."""
    if len(x) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    inputs = model_inputs(model, x, handshape)
    probs = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES:
        raise ValueError(f"model outputs shape {probs.shape[1:]}, expected ({NUM_CLASSES},)")
    return probs


def check_input_size(model, x: np.ndarray) -> None:
    """A clear error instead of a shape traceback when the data does not fit the model."""
    expected = tuple(image_input_shape(model)[1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"data has images of shape {tuple(x.shape[1:])}; the model takes {expected}"
        )


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """24x24 counts: row = true class, column = predicted class."""
    index = np.asarray(y_true, np.int64) * NUM_CLASSES + np.asarray(y_pred, np.int64)
    return np.bincount(index, minlength=NUM_CLASSES * NUM_CLASSES).reshape(NUM_CLASSES, NUM_CLASSES)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (no predictions / no support)."""
    out = np.zeros(numerator.shape, np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    confusion = confusion_matrix(y_true, y_pred)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    precision = _ratio(tp, confusion.sum(axis=0))
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    n = int(len(y_true))
    present = support > 0
    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "n": n,
        "letters": list(CLASS_LETTERS),
        "per_class": {
            letter: {
                "precision": round(float(precision[i]), 6),
                "recall": round(float(recall[i]), 6),
                "f1": round(float(f1[i]), 6),
                "support": int(support[i]),
            }
            for i, letter in enumerate(CLASS_LETTERS)
        },
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "confusion": confusion.tolist(),
    }


def per_group(y_true: np.ndarray, y_pred: np.ndarray, groups: list[str]) -> dict:
    """{group: {"accuracy", "n", "correct"}} for the photos of each group, sorted by name."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    correct = (np.asarray(y_true) == np.asarray(y_pred)).tolist()
    for group, ok in zip(groups, correct, strict=True):
        hits[group][0] += int(ok)
        hits[group][1] += 1
    return {g: {"accuracy": h[0] / h[1], "n": h[1], "correct": h[0]}
            for g, h in sorted(hits.items())}


def per_source(y_true: np.ndarray, y_pred: np.ndarray, sources: list[str]) -> dict:
    """{source: {"accuracy", "n", "correct"}}, sorted by source name ("-" for none)."""
    return per_group(y_true, y_pred, [source or "-" for source in sources])


def split_summary(result: dict, split) -> dict:
    """The held-out total and the raw-webcam subtotal of a per-source result, for a
    webapp.train.splits.PhotoSplit: {"name", "held_out": {...}, "raw_webcam": {...}}, each
    {"accuracy", "n", "sources"} (accuracy over photos, not a mean of sources)."""
    def total(names: list[str]) -> dict:
        rows = [result["per_source"][name] for name in names]
        n = sum(row["n"] for row in rows)
        hits = sum(row["accuracy"] * row["n"] for row in rows)
        return {"accuracy": hits / n if n else 0.0, "n": n, "sources": names}

    present = sorted(result.get("per_source", {}))
    return {
        "name": split.name,
        "held_out": total([s for s in present if s in split.held_out]),
        "raw_webcam": total([s for s in present if s in split.held_out and s in split.raw_webcam]),
    }


def held_out_entry(result: dict, split, photos_sha256: str) -> dict:
    """What a model's metadata keeps of its score on a split's held-out photo sources
    ("held_out": the models table shows it first): {"split", "accuracy", "n", "raw_webcam",
    "photos_sha256"}. Recorded, never used to choose anything."""
    summary = split_summary(result, split)
    return {"split": split.name, "accuracy": summary["held_out"]["accuracy"],
            "n": summary["held_out"]["n"], "raw_webcam": summary["raw_webcam"]["accuracy"],
            "photos_sha256": photos_sha256}


def score_held_out(loaded, photos_dir: str | os.PathLike, split) -> dict:
    """`loaded` (a registry.LoadedModel) on the held-out sources of `split` in `photos_dir`,
    read through its spec: the held_out_entry. DataError when they cannot be read (not
    there, or not located yet for a hand-crop model)."""
    dataset = load_dataset(photos_dir, "test", loaded.spec,
                           sources=lambda source: split.role(source) == "held_out")
    if not dataset.sources or not set(dataset.sources) & split.held_out:
        raise DataError(f"{photos_dir}: none of the held-out sources of split {split.name}")
    return held_out_entry(evaluate(loaded.model, dataset), split, dataset.sha256)


def top_confusions(result: dict, count: int = 10) -> list[dict]:
    """The largest off-diagonal cells: [{"true", "predicted", "count"}], biggest first."""
    matrix = np.array(result["confusion"])
    np.fill_diagonal(matrix, 0)
    order = np.argsort(matrix, axis=None, kind="stable")[::-1][:count]
    labels = result["letters"]
    return [
        {"true": labels[i // NUM_CLASSES], "predicted": labels[i % NUM_CLASSES],
         "count": int(matrix.flat[i])}
        for i in order
        if matrix.flat[i] > 0
    ]


def evaluate(model, dataset: Dataset, batch_size: int = 256) -> dict:
    """Score `model` on `dataset`; adds "per_source" when the data set knows its sources."""
    check_input_size(model, dataset.x)
    probs = predict_probs(model, dataset.x, batch_size=batch_size, handshape=dataset.handshape)
    predicted = probs.argmax(axis=1)
    result = metrics(dataset.y, predicted)
    if dataset.sources:
        result["per_source"] = per_source(dataset.y, predicted, dataset.sources)
    if dataset.handshape is not None:
        result["by_hand"] = by_hand(dataset.y, predicted, dataset.handshape[:, 0] > 0)
    return result


def by_hand(y_true: np.ndarray, y_pred: np.ndarray, found: np.ndarray) -> dict:
    """Accuracy where the locator found the hand and where it did not (photos read with
    their hand boxes): {"found": {"n", "correct", "accuracy"}, "not_found": {...}}."""
    groups = per_group(y_true, y_pred, ["found" if f else "not_found" for f in found])
    empty = {"accuracy": 0.0, "n": 0, "correct": 0}
    return {key: groups.get(key, empty) for key in ("found", "not_found")}


HAND_FREE_SEED = 20261125  # not a training seed: these pictures are never trained on


def hand_free_check(model, threshold: float, count: int = 1000) -> dict:
    """How often the model reads a letter where there is no hand: `count` synthetic
    hand-free pictures (data.hand_free_images, a seed no training run uses) scored against
    the live page's confidence threshold. A letter at or above it is a false letter."""

    size = int(image_input_shape(model)[1])
    top = predict_probs(model, hand_free_images(count, size, HAND_FREE_SEED)).max(axis=1)
    false = int((top >= threshold).sum())
    return {"n": count, "threshold": float(threshold), "false_letters": false,
            "rate": false / count if count else 0.0, "median_confidence": float(np.median(top))}


def save_confusion_png(result: dict, path: str | os.PathLike) -> None:
    """The confusion matrix as a PNG: colour = share of the true letter, numbers = counts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    matrix = np.array(result["confusion"])
    labels = result["letters"]
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    figure = Figure(figsize=(11, 10), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true letter")
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted letter")
    axes.set_ylabel("true letter")
    axes.set_title(f"accuracy {result['accuracy']:.4f} on {result['n']:,} images")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if share[i, j] > 0.5 else ("black" if i == j else "firebrick")
            axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.tight_layout()
    figure.savefig(os.fspath(path))
