"""Label <-> letter mapping: the one place that knows Sign Language MNIST's label convention.

Label k is the letter chr(65 + k). J (9) and Z (25) need motion and never occur, so the
classifier has 24 outputs; `CLASS_LETTERS[i]` is the letter of output i.
"""

from __future__ import annotations

import numpy as np

MOTION_LABELS = frozenset({9, 25})
VALID_LABELS: tuple[int, ...] = tuple(k for k in range(25) if k not in MOTION_LABELS)
CLASS_LETTERS: tuple[str, ...] = tuple(chr(65 + k) for k in VALID_LABELS)
NUM_CLASSES = len(CLASS_LETTERS)

_LABEL_TO_CLASS = {label: index for index, label in enumerate(VALID_LABELS)}
_LETTER_TO_CLASS = {letter: index for index, letter in enumerate(CLASS_LETTERS)}


def label_to_letter(label: int) -> str:
    """The letter of a Sign Language MNIST label (0-24, never 9)."""
    if label not in _LABEL_TO_CLASS:
        raise ValueError(f"label {label} is not a static letter (valid: 0-24 except 9)")
    return chr(65 + label)


def label_to_class(label: int) -> int:
    """The classifier output index (0-23) of a Sign Language MNIST label."""
    if label not in _LABEL_TO_CLASS:
        raise ValueError(f"label {label} is not a static letter (valid: 0-24 except 9)")
    return _LABEL_TO_CLASS[label]


def class_to_letter(index: int) -> str:
    """The letter of classifier output `index` (0-23)."""
    return CLASS_LETTERS[index]


def letter_to_class(letter: str) -> int:
    """The classifier output index of a letter (case-insensitive)."""
    key = letter.strip().upper()
    if key not in _LETTER_TO_CLASS:
        raise ValueError(f"{letter!r} is not one of the 24 static letters A-Y without J")
    return _LETTER_TO_CLASS[key]


def top_predictions(probs, k: int = 3) -> list[list]:
    """[[letter, p], ...] for the k most likely letters, most likely first; a tie goes to the
    earlier letter, as argmax does, so the first entry is always the argmax letter."""
    p = np.asarray(probs, np.float64)
    order = np.argsort(-p, kind="stable")[:k]
    return [[CLASS_LETTERS[i], round(float(p[i]), 4)] for i in order]
