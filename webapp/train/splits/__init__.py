"""Named, versioned splits of a photo collection by source (see photos-v1.json).

Photos of one source share a person, a room and a camera, so an honest test holds out whole
sources. The split is a file in the repo, not a seed: every run, every evaluation and every
engineer uses the same held-out sources, and a new list is a new version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SPLIT = "photos-v1"
_FOLDER = Path(__file__).resolve().parent


class SplitError(ValueError):
    """An unknown split name or a malformed split file."""


@dataclass(frozen=True)
class PhotoSplit:
    name: str
    held_out: frozenset[str]
    validation: frozenset[str]
    raw_webcam: frozenset[str]
    multi_person: frozenset[str]

    def role(self, source: str) -> str:
        """'held_out', 'validation' or 'train' for a source tag."""
        if source in self.held_out:
            return "held_out"
        if source in self.validation:
            return "validation"
        return "train"


def available() -> list[str]:
    return sorted(p.stem for p in _FOLDER.glob("*.json"))


def load(name: str = DEFAULT_SPLIT) -> PhotoSplit:
    """The split called `name` (a file webapp/train/splits/<name>.json)."""
    if name not in available():
        raise SplitError(f"unknown split {name!r}; known: {', '.join(available())}")
    try:
        raw = json.loads((_FOLDER / f"{name}.json").read_text())
        split = PhotoSplit(
            name=raw["name"],
            **{key: frozenset(raw.get(key, ())) for key in
               ("held_out", "validation", "raw_webcam", "multi_person")},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SplitError(f"split {name!r} cannot be read: {exc}") from exc
    if split.held_out & split.validation:
        raise SplitError(f"split {name!r}: a source is both held out and validation")
    return split
