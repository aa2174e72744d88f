"""ModelSpec: how a model is fed, decided once, saved with the model, read by everyone."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from modelkit import tiny_model

from webapp.model.handshape import FEATURES, FEATURES_VERSION, NUM_LANDMARKS, Hand
from webapp.model.letters import CLASS_LETTERS
from webapp.model.preprocess import DEFAULT_CROP_FRACTION, FrameError, preprocess
from webapp.model.registry import ModelError, Registry
from webapp.model.spec import INPUT_SIZE_RANGE, ModelSpec, SpecError

HAND = Hand(tuple((200.0 + 4 * i, 150.0 + 3 * i, -0.1 * i) for i in range(NUM_LANDMARKS)))
BOX = (180.0, 120.0, 120.0, 140.0)


def _frame() -> bytes:
    """A 640x480 JPEG whose left and right halves differ, so crops tell apart."""
    picture = np.zeros((480, 640, 3), np.uint8)
    picture[:, :320] = 40
    picture[:, 320:] = 220
    picture[150:250, 200:280] = 128
    return cv2.imencode(".jpg", picture)[1].tobytes()


@pytest.mark.parametrize("changes, field", [
    ({"input_size": 4}, "input_size"),
    ({"input_size": INPUT_SIZE_RANGE[1] + 1}, "input_size"),
    ({"input_size": 28.0}, "input_size"),
    ({"input_size": True}, "input_size"),
    ({"crop": "box"}, "crop"),
    ({"crop_fraction": 1.5}, "crop_fraction"),
    ({"crop_fraction": float("nan")}, "crop_fraction"),
    ({"handshape": "other-landmarks-v0"}, "handshape"),
    ({"letters": tuple("ABC")}, "letters"),
])
def test_every_bound_is_checked_when_a_spec_is_made(changes: dict, field: str) -> None:
    with pytest.raises(SpecError) as info:
        ModelSpec(**{"input_size": 28, **changes})
    assert info.value.field == field and str(info.value).startswith(field)


def test_a_spec_says_its_inputs_and_what_it_answers() -> None:
    plain = ModelSpec(56, "hand")
    fused = plain.with_hand_shape()
    assert plain.inputs == ("image",) and fused.inputs == ("image", "handshape")
    assert fused.handshape == FEATURES_VERSION and fused.without_hand_shape() == plain
    assert plain.letters == CLASS_LETTERS and plain.reads_hand_box
    assert not ModelSpec(28).reads_hand_box  # the guide square by default


def test_the_metadata_round_trip_and_older_files() -> None:
    spec = ModelSpec(56, "hand", 0.7).with_hand_shape()
    metadata = json.loads(json.dumps(spec.to_metadata()))
    assert ModelSpec.from_metadata(metadata) == spec
    assert metadata["inputs"] == ["image", "handshape"]
    # A file from before hand crops has only its input size: the guide square, the default.
    assert ModelSpec.from_metadata({"input_size": 28}) == ModelSpec(28, "guide",
                                                                      DEFAULT_CROP_FRACTION)
    with pytest.raises(SpecError, match="input_size is missing"):
        ModelSpec.from_metadata({})


def test_overrides_are_checked_again() -> None:
    spec = ModelSpec(28, "hand")
    assert spec.overridden(crop="guide").crop == "guide"
    assert spec.overridden(crop_fraction=0.5).crop_fraction == 0.5
    assert spec.overridden() == spec
    with pytest.raises(SpecError, match="crop_fraction"):
        spec.overridden(crop_fraction=0.0)


def test_read_is_the_frame_path_and_the_box_matters_only_to_a_hand_crop() -> None:
    frame = _frame()
    guide, hand = ModelSpec(28), ModelSpec(28, "hand")
    np.testing.assert_array_equal(guide.read(frame, BOX, HAND).image, preprocess(frame, size=28))
    np.testing.assert_array_equal(hand.read(frame, BOX, HAND).image,
                                  preprocess(frame, size=28, box=BOX))
    assert not np.array_equal(hand.read(frame, BOX).image, hand.read(frame).image)
    np.testing.assert_array_equal(hand.read(frame, BOX, HAND).handshape, HAND.features())
    no_hand = hand.read(frame).handshape
    assert no_hand.shape == (FEATURES,) and not no_hand.any()
    with pytest.raises(FrameError):
        hand.read(b"not a picture", BOX, HAND)


def test_the_registry_loads_the_spec_and_refuses_a_bad_one(tmp_path) -> None:
    model = tiny_model()
    registry = Registry(tmp_path)
    registry.save(model, "ok", ModelSpec(28, "hand", 0.6).to_metadata())
    assert registry.load("ok").spec == ModelSpec(28, "hand", 0.6)
    for name, metadata, why in [
        ("crop", {"input_size": 28, "crop": "box"}, "metadata crop must be one of"),
        ("fraction", {"input_size": 28, "crop_fraction": 2}, "metadata crop_fraction"),
        ("shape", {"input_size": 28, "handshape": FEATURES_VERSION}, "no handshape input"),
    ]:
        registry.save(model, name, metadata)
        with pytest.raises(ModelError, match=why):
            registry.load(name)
