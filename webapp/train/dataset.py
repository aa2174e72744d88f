"""A data set as the models take it (Dataset: pictures, labels, where they came from),
and the dashboard's per-letter counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from webapp.model import letters


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


def class_counts(y: Sequence[int] | np.ndarray) -> dict[str, int]:
    """{letter: count} for a vector of class indices (used in reports)."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=letters.NUM_CLASSES)
    return {letter: int(c) for letter, c in zip(letters.CLASS_LETTERS, counts, strict=False)}
