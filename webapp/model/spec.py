"""How a model is fed and what it answers: its ModelSpec.

Why one type: input size, crop mode, crop fraction and whether a model reads the hand's
landmarks are decided once, when a model is trained (TrainConfig.spec) or fused (fuse takes
its base's spec and adds the hand shape). The spec is saved in the model's metadata (the
same flat keys model files have always had, plus "inputs"), comes back with the model from
the registry, and is the only thing serving, the CLI, evaluation and data loading read. Its
`read` is the one entry from a frame or photo, plus the locator's box and landmarks, to what
the model takes; nets.model_inputs packs a batch of those for the Keras call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webapp.model.handshape import FEATURES, FEATURES_VERSION, Hand
from webapp.model.letters import CLASS_LETTERS
from webapp.model.preprocess import (
    CROPS,
    DEFAULT_CROP,
    DEFAULT_CROP_FRACTION,
    crop_fraction_problem,
    preprocess,
)

INPUT_SIZE_RANGE = (8, 512)  # pixels on a side; every caller checks with input_size_problem


class SpecError(ValueError):
    """A spec value that cannot be: `field` names it, `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def input_size_problem(value: object) -> str | None:
    """Why `value` cannot be an input size (an integer in INPUT_SIZE_RANGE), or None."""
    low, high = INPUT_SIZE_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"must be an integer from {low} to {high}, got {value!r}"
    return None


def crop_problem(value: object) -> str | None:
    """Why `value` cannot be a crop mode, or None."""
    if value not in CROPS:
        return f"must be one of {', '.join(CROPS)}, got {value!r}"
    return None


@dataclass(frozen=True)
class Sample:
    """One frame or photo as the model takes it: the (S, S, 1) picture in [0, 1] and the
    hand-shape features (zeros without a hand; only a model that reads them gets them)."""

    image: np.ndarray
    handshape: np.ndarray


@dataclass(frozen=True)
class ModelSpec:
    """How a model is fed (picture size, crop, crop fraction, inputs) and what it answers."""

    input_size: int
    crop: str = DEFAULT_CROP  # "hand": the square around the located hand; "guide": the guide's
    crop_fraction: float = DEFAULT_CROP_FRACTION  # the guide square, of the shorter side
    handshape: str | None = None  # the hand-shape features' version when it reads landmarks
    letters: tuple[str, ...] = CLASS_LETTERS

    def __post_init__(self) -> None:
        for field, problem in (("input_size", input_size_problem(self.input_size)),
                               ("crop", crop_problem(self.crop)),
                               ("crop_fraction", crop_fraction_problem(self.crop_fraction))):
            if problem:
                raise SpecError(field, problem)
        if self.handshape not in (None, FEATURES_VERSION):
            raise SpecError("handshape", f"features {self.handshape!r} are not this "
                                         f"version's ({FEATURES_VERSION})")
        if tuple(self.letters) != CLASS_LETTERS:
            raise SpecError("letters", f"{''.join(self.letters)!r} are not the classifier's "
                                       f"{''.join(CLASS_LETTERS)!r}")
        object.__setattr__(self, "crop_fraction", float(self.crop_fraction))
        object.__setattr__(self, "letters", tuple(self.letters))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The model's named inputs: the picture, and the hand's shape for a fused model."""
        return ("image", "handshape") if self.handshape else ("image",)

    @property
    def reads_hand_box(self) -> bool:
        """Whether the picture is cut around the hand's box (else the guide square)."""
        return self.crop == "hand"

    def with_hand_shape(self) -> ModelSpec:
        """This spec for the fused model that also reads the landmarks (signlive fuse)."""
        return dataclasses.replace(self, handshape=FEATURES_VERSION)

    def without_hand_shape(self) -> ModelSpec:
        """This spec for the image part alone (a fused model's branch retrained)."""
        return dataclasses.replace(self, handshape=None)

    def overridden(self, crop: str | None = None,
                   crop_fraction: float | None = None) -> ModelSpec:
        """This spec with the CLI's --crop / --crop-fraction where given (checked again)."""
        return dataclasses.replace(
            self, crop=self.crop if crop is None else crop,
            crop_fraction=self.crop_fraction if crop_fraction is None else crop_fraction)

    def read(self, data: bytes, box: Sequence[float] | None = None,
             hand: Hand | None = None) -> Sample:
        """THE entry from an encoded frame or photo (+ the locator's box and landmarks, when
        it found a hand) to the model's inputs. A guide-crop model ignores the box: it was
        never shown a crop around a hand. FrameError for bytes that are not a usable image."""
        image = preprocess(data, self.crop_fraction, self.input_size,
                           box=box if self.reads_hand_box else None)
        features = hand.features() if hand is not None else np.zeros(FEATURES, np.float32)
        return Sample(image, features)

    def to_metadata(self) -> dict:
        """The spec as a model's metadata keys (flat, as model files have always had them)."""
        return {"input_size": self.input_size, "crop": self.crop,
                "crop_fraction": self.crop_fraction, "handshape": self.handshape,
                "letters": list(self.letters), "inputs": list(self.inputs)}

    @classmethod
    def from_metadata(cls, metadata: dict) -> ModelSpec:
        """The spec a model's metadata records; absent keys take the defaults older files
        were made with (guide crop, the default crop fraction, no hand shape)."""
        if "input_size" not in metadata:
            raise SpecError("input_size", "is missing")
        fraction = metadata.get("crop_fraction")
        return cls(input_size=metadata["input_size"],
                   crop=metadata.get("crop") or DEFAULT_CROP,
                   crop_fraction=DEFAULT_CROP_FRACTION if fraction is None else fraction,
                   handshape=metadata.get("handshape"),
                   letters=tuple(metadata.get("letters") or CLASS_LETTERS))
