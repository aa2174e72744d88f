"""The hand's shape as a second model input (webapp/model/handshape.py, nets.build_fused).

Why these tests: the fused model must read exactly like its image model wherever no hand is
found (zero features, bias-free branch), the 64 numbers must mean the same thing live, in the
box cache and in training (wrist origin, unit scale, left hands mirrored, rotation kept), and
whatever a page sends as landmarks must be refused by name without breaking the connection.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from imagekit import png

from webapp.model import nets
from webapp.model.handshape import (
    FEATURES,
    FEATURES_VERSION,
    NUM_LANDMARKS,
    Hand,
    augment,
    features,
)
from webapp.model.letters import CLASS_LETTERS, letter_to_class
from webapp.model.preprocess import DEFAULT_CROP_FRACTION, preprocess
from webapp.model.registry import ModelError, Registry, load_model_file
from webapp.serve.live import BadFrame, validate_frame
from webapp.train.evaluation import predict_probs
from webapp.train.locate import DETECTOR, BoxCache

TIMEOUT = 15


def hand_points(seed: int = 0, wrist: tuple[float, float] = (320.0, 300.0),
                size: float = 80.0) -> np.ndarray:
    """21 [x, y, z] landmarks in pixels: the wrist at `wrist`, the rest scattered above it
    (an irregular shape, so no mirror or turn of it equals itself)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, (NUM_LANDMARKS, 3)) * [size, size, size / 4]
    points[:, 1] -= size
    points[0] = 0.0
    return points + [wrist[0], wrist[1], 0.0]


POINTS = hand_points()


def xyz(vector: np.ndarray) -> np.ndarray:
    """The (21, 3) landmark part of a feature vector."""
    return vector[1:].reshape(NUM_LANDMARKS, 3)


# ------------------------------------------------------------------------------ features


def _with(points: np.ndarray, index: tuple[int, int], value: float) -> np.ndarray:
    changed = points.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize("landmarks", [
    None,
    POINTS[:20],
    np.vstack([POINTS, POINTS[:1]]),
    POINTS[:, :2],
    _with(POINTS, (7, 0), math.nan),
    _with(POINTS, (3, 2), math.inf),
    np.tile([[100.0, 50.0, 3.0]], (NUM_LANDMARKS, 1)),  # all in one point: no size to scale by
    np.column_stack([np.full(NUM_LANDMARKS, 100.0), np.full(NUM_LANDMARKS, 50.0),
                     np.arange(NUM_LANDMARKS, dtype=float)]),
], ids=["none", "20 points", "22 points", "x and y only", "nan", "inf", "one point",
        "one point in x/y, spread in z"])
def test_features_are_all_zero_without_a_usable_hand(landmarks) -> None:
    for side in (None, "Left", "Right"):
        out = features(landmarks, side)
        assert out.shape == (FEATURES,) and out.dtype == np.float32
        assert not out.any(), out


def test_features_flag_the_hand_and_put_the_wrist_at_the_origin() -> None:
    points = POINTS.copy()
    points[5, 2] = 500.0  # far away in depth only: the scale is taken in x/y
    out = features(points, "Right")
    assert FEATURES == 64 and out[0] == 1.0
    assert np.array_equal(xyz(out)[0], [0.0, 0.0, 0.0])
    relative = points - points[0]
    scale = np.hypot(relative[:, 0], relative[:, 1]).max()
    np.testing.assert_allclose(xyz(out), relative / scale, rtol=0, atol=1e-6)
    assert np.hypot(xyz(out)[:, 0], xyz(out)[:, 1]).max() == pytest.approx(1.0, abs=1e-6)
    assert xyz(out)[5, 2] > 1.5  # z is scaled with x/y, never clipped to it


@pytest.mark.parametrize(("scale", "shift"), [
    (1.0, (250.0, -40.0, 7.0)),
    (3.5, (0.0, 0.0, 0.0)),
    (0.01, (-1000.0, 2000.0, -5.0)),
    (1000.0, (12.5, 0.5, 0.0)),
])
def test_features_ignore_where_the_hand_is_and_how_big(scale: float, shift) -> None:
    moved = POINTS * scale + np.asarray(shift)
    for side in (None, "Left"):
        np.testing.assert_allclose(features(moved, side), features(POINTS, side), rtol=0,
                                   atol=1e-5)


def test_a_left_hand_is_mirrored_into_a_right_one() -> None:
    right = features(POINTS, "Right")
    left = features(POINTS, "Left")
    assert left[0] == right[0] == 1.0
    np.testing.assert_array_equal(xyz(left)[:, 0], -xyz(right)[:, 0])
    np.testing.assert_array_equal(xyz(left)[:, 1:], xyz(right)[:, 1:])
    assert np.abs(left - right).max() > 0.5  # the test hand is not symmetric
    np.testing.assert_array_equal(features(POINTS, None), right)  # unknown: as it is
    np.testing.assert_array_equal(features(POINTS, "left"), right)  # only "Left" mirrors
    # The same hand seen in a mirror (x flipped in the frame) and called "Left" by MediaPipe
    # gives the right hand's numbers: one classifier serves both hands.
    mirrored = POINTS * [-1.0, 1.0, 1.0] + [640.0, 0.0, 0.0]
    np.testing.assert_allclose(features(mirrored, "Left"), right, rtol=0, atol=1e-6)


def test_the_hand_turn_is_kept() -> None:
    relative = POINTS - POINTS[0]
    turned = relative.copy()
    turned[:, 0], turned[:, 1] = -relative[:, 1], relative[:, 0]  # 90 degrees in the image
    a, b = features(POINTS), features(turned + POINTS[0])
    assert np.abs(a - b).max() > 0.5  # H and U differ mainly by this
    # ... and it is the same hand: its numbers turn with it.
    np.testing.assert_allclose(xyz(b)[:, 0], -xyz(a)[:, 1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(xyz(b)[:, 1], xyz(a)[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(xyz(b)[:, 2], xyz(a)[:, 2], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------ Hand.parse


def _replace(index: tuple[int, int], value: object) -> list:
    landmarks = POINTS.tolist()
    landmarks[index[0]][index[1]] = value
    return landmarks


BAD_LANDMARKS = [
    ("a bool", _replace((3, 1), True)),
    ("a string number", _replace((4, 0), "12.5")),
    ("nan", _replace((5, 2), math.nan)),
    ("inf", _replace((6, 0), math.inf)),
    ("minus inf", _replace((6, 1), -math.inf)),
    ("an int beyond float range", _replace((2, 0), 10**400)),
    ("null", _replace((1, 1), None)),
    ("20 points", POINTS.tolist()[:20]),
    ("22 points", POINTS.tolist() + [[1.0, 2.0, 3.0]]),
    ("no points", []),
    ("a point of 2", POINTS.tolist()[:20] + [[1.0, 2.0]]),
    ("a point of 4", POINTS.tolist()[:20] + [[1.0, 2.0, 3.0, 4.0]]),
    ("a point as an object", POINTS.tolist()[:20] + [{"x": 1, "y": 2, "z": 3}]),
    ("a point as a string", POINTS.tolist()[:20] + ["1,2,3"]),
    ("an object", {str(i): p for i, p in enumerate(POINTS.tolist())}),
    ("a string", "21 landmarks"),
    ("a number", 21),
    ("a numpy array", POINTS),
]


@pytest.mark.parametrize("landmarks", [b[1] for b in BAD_LANDMARKS],
                         ids=[b[0] for b in BAD_LANDMARKS])
def test_hand_parse_refuses_anything_but_21_finite_triples(landmarks) -> None:
    assert Hand.parse(landmarks) is None
    assert Hand.parse(landmarks, "Right") is None


def test_hand_parse_takes_ints_and_tuples_as_floats() -> None:
    landmarks = [tuple(int(v) for v in point) for point in POINTS]
    hand = Hand.parse(landmarks, "Right")
    assert hand is not None and len(hand.landmarks) == NUM_LANDMARKS
    assert all(isinstance(v, float) for point in hand.landmarks for v in point)
    assert hand.landmarks[3] == tuple(float(v) for v in landmarks[3])


@pytest.mark.parametrize(("given", "kept"), [
    ("Left", "Left"), ("Right", "Right"), (None, None), ("left", None), ("RIGHT", None),
    ("Left ", None), ("", None), (1, None), (True, None), (["Left"], None), ({"Left": 1}, None),
])
def test_hand_parse_keeps_only_left_or_right(given: object, kept: str | None) -> None:
    hand = Hand.parse(POINTS.tolist(), given)
    assert hand is not None and hand.handedness == kept


@pytest.mark.parametrize("side", ["Left", "Right", None])
def test_hand_json_round_trip(side: str | None) -> None:
    hand = Hand.parse(POINTS.tolist(), side)
    assert hand is not None
    text = json.dumps(hand.to_json(), allow_nan=False)
    again = Hand.parse(**json.loads(text))
    assert again == hand
    np.testing.assert_array_equal(again.features(), features(POINTS, side))
    assert again.features()[0] == 1.0


# ------------------------------------------------------------------------------ augment


def test_augment_varies_present_hands_and_leaves_absent_ones_empty() -> None:
    present = [features(hand_points(seed), side)
               for seed, side in zip(range(40), ["Right", "Left", None, "Right"] * 10,
                                     strict=True)]
    batch = np.stack(present[:20] + [np.zeros(FEATURES, np.float32)] * 3 + present[20:])
    absent = batch[:, 0] == 0
    original = batch.copy()
    out = augment(batch, np.random.default_rng(1))
    np.testing.assert_array_equal(batch, original)  # the input is left alone
    assert out.shape == batch.shape and out.dtype == np.float32
    assert absent.sum() == 3 and not out[absent].any()
    shapes = out[~absent]
    assert np.all(shapes[:, 0] == 1.0)
    points = shapes[:, 1:].reshape(-1, NUM_LANDMARKS, 3)
    assert not points[:, 0].any()  # the wrist stays the origin
    np.testing.assert_allclose(np.hypot(points[..., 0], points[..., 1]).max(axis=1), 1.0,
                               rtol=0, atol=1e-5)
    change = np.abs(shapes - batch[~absent]).max(axis=1)
    assert np.all(change > 1e-3), change  # every hand moved ...
    assert change.max() < 0.6, change  # ... a little: a small turn, stretch and jitter
    again = augment(batch, np.random.default_rng(1))
    np.testing.assert_array_equal(again, out)  # reproducible from the generator
    assert np.abs(augment(batch, np.random.default_rng(2)) - out).max() > 1e-3


def test_augment_of_a_batch_without_hands() -> None:
    empty = np.zeros((4, FEATURES), np.float32)
    out = augment(empty, np.random.default_rng(0))
    assert out.shape == (4, FEATURES) and not out.any()


# ------------------------------------------------------------------------ the fused model


def randomize(model, seed: int) -> None:
    """Give every trainable weight of `model` a random non-zero value (as after training)."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype("float32"))


@pytest.fixture(scope="module")
def parts():
    """(base, branch, fused): an untrained 28 px `cnn`, a randomized branch, the two fused."""
    import keras

    keras.utils.set_random_seed(0)
    base = nets.build_model("cnn", 28)
    branch = nets.build_handshape_branch((16, 8), 0.3)
    randomize(branch, 1)
    return base, branch, nets.build_fused(base, branch)


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    """Four images and their hand shapes: no hand, a right hand, a left hand, no hand."""
    images = np.random.default_rng(3).random((4, 28, 28, 1)).astype("float32")
    shapes = np.zeros((4, FEATURES), np.float32)
    shapes[1] = features(POINTS, "Right")
    shapes[2] = features(hand_points(5), "Left")
    return images, shapes


def test_the_branch_adds_exactly_nothing_without_a_hand() -> None:
    branch = nets.build_handshape_branch((16, 8), 0.3)
    randomize(branch, 2)  # non-zero everywhere: a bias would show
    assert branch.input_shape == (None, FEATURES) and branch.output_shape == (None, 24)
    x = np.zeros((3, FEATURES), np.float32)
    x[1] = features(POINTS)
    logits = np.asarray(branch(x, training=False))
    assert not logits[0].any() and not logits[2].any()
    assert np.abs(logits[1]).max() > 0.1
    assert not np.asarray(branch(np.zeros((2, FEATURES), np.float32), training=True)).any()


def test_the_branch_reads_a_hand_and_its_mirror_image_alike_and_ignores_depth() -> None:
    branch = nets.build_handshape_branch((16, 8), 0.3)
    randomize(branch, 3)
    x = np.stack([features(hand_points(seed), side)
                  for seed, side in ((0, "Right"), (1, None), (2, "Left"))])
    mirrored = x.copy()
    mirrored[:, 1::3] *= -1  # every landmark's x: the mirror image
    flattened = x.copy()
    flattened[:, 3::3] = np.random.default_rng(4).normal(0.0, 1.0, (3, NUM_LANDMARKS))  # z
    logits = np.asarray(branch(x, training=False))
    assert np.abs(logits).max() > 0.1
    np.testing.assert_allclose(branch(mirrored, training=False), logits, rtol=0, atol=1e-5)
    np.testing.assert_allclose(branch(flattened, training=False), logits, rtol=0, atol=1e-5)
    # ...but it is not blind: another hand's shape is another answer
    other = np.asarray(branch(np.roll(x, 1, axis=0), training=False))
    assert np.abs(other - logits).max() > 0.1


def test_the_fused_model_is_its_base_without_a_hand_and_adds_the_branch_with_one(
        parts, batch) -> None:
    base, branch, fused = parts
    images, shapes = batch
    want = np.asarray(base(images, training=False))
    got = np.asarray(fused({"image": images, "handshape": shapes}, training=False))
    for row in (0, 3):
        np.testing.assert_allclose(got[row], want[row], rtol=0, atol=1e-7)
    for row in (1, 2):
        assert np.abs(got[row] - want[row]).max() > 1e-3
    # softmax(image logits + branch logits): the log of the base's softmax is its logits
    # up to a constant per row, which softmax ignores.
    summed = np.log(want) + np.asarray(branch(shapes, training=False))
    expected = np.exp(summed - summed.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_only_the_branch_of_a_fused_model_trains(parts) -> None:
    base, branch, fused = parts
    assert len(fused.trainable_weights) == len(branch.trainable_weights) > 0
    trainable = {id(v) for v in fused.trainable_weights}
    assert trainable == {id(v) for v in branch.trainable_weights}
    # the frozen image model, plus the branch's two fixed views of the features
    assert len(fused.non_trainable_weights) == len(base.weights) + 2
    assert len(branch.non_trainable_weights) == 2


def test_model_inputs_and_predict_probs_for_one_or_two_inputs(parts, batch) -> None:
    base, _, fused = parts
    images, shapes = batch
    assert nets.reads_handshape(fused) and not nets.reads_handshape(base)
    assert nets.image_input_shape(fused) == nets.image_input_shape(base) == (None, 28, 28, 1)
    assert nets.model_inputs(base, images) is images
    inputs = nets.model_inputs(fused, images)
    assert set(inputs) == {"image", "handshape"} and inputs["image"] is images
    assert inputs["handshape"].shape == (4, FEATURES) and not inputs["handshape"].any()
    plain = predict_probs(base, images)
    np.testing.assert_allclose(predict_probs(fused, images), plain, rtol=0, atol=1e-6)
    with_hands = predict_probs(fused, images, handshape=shapes)
    np.testing.assert_allclose(with_hands[[0, 3]], plain[[0, 3]], rtol=0, atol=1e-6)
    assert np.abs(with_hands[[1, 2]] - plain[[1, 2]]).max() > 1e-3


FUSED_METADATA = {"arch": "cnn+handshape", "crop": "hand", "handshape": FEATURES_VERSION,
                  "input_size": 28, "crop_fraction": DEFAULT_CROP_FRACTION,
                  "letters": list(CLASS_LETTERS)}


@pytest.fixture(scope="module")
def saved(parts, tmp_path_factory) -> Path:
    """A models folder with the fused model saved as `fused` and its base as `base`."""
    base, _, fused = parts
    folder = tmp_path_factory.mktemp("fused-models")
    registry = Registry(folder)
    registry.save(fused, "fused", FUSED_METADATA)
    registry.save(base, "base", {k: v for k, v in FUSED_METADATA.items() if k != "handshape"})
    return folder


def test_a_fused_model_saves_and_loads_back(saved, parts, batch) -> None:
    images, shapes = batch
    loaded = load_model_file(saved / "fused.keras")
    assert loaded.name == "fused" and nets.reads_handshape(loaded.model)
    assert loaded.metadata["handshape"] == FEATURES_VERSION
    assert loaded.metadata["crop"] == "hand" and loaded.metadata["input_size"] == 28
    np.testing.assert_allclose(predict_probs(loaded.model, images, handshape=shapes),
                               predict_probs(parts[2], images, handshape=shapes),
                               rtol=0, atol=1e-6)
    assert Registry(saved).load("fused").metadata["handshape"] == FEATURES_VERSION
    plain = load_model_file(saved / "base.keras")  # a one-input model gets no such key
    assert "handshape" not in plain.metadata and not nets.reads_handshape(plain.model)


@pytest.mark.parametrize("version", ["mediapipe-hands-21-v0", "mediapipe-hands-33-v1", None])
def test_a_fused_model_of_another_feature_version_is_refused(saved, tmp_path,
                                                             version: str | None) -> None:
    (tmp_path / "other.keras").write_bytes((saved / "fused.keras").read_bytes())
    (tmp_path / "other.json").write_text(json.dumps({**FUSED_METADATA, "handshape": version}))
    with pytest.raises(ModelError, match=f"hand-shape features {version!r} are not this "
                                         f"version's \\({FEATURES_VERSION}\\)"):
        load_model_file(tmp_path / "other.keras")


def test_a_fused_model_file_without_metadata_is_taken_as_this_version(saved, tmp_path) -> None:
    (tmp_path / "bare.keras").write_bytes((saved / "fused.keras").read_bytes())
    loaded = load_model_file(tmp_path / "bare.keras")
    assert loaded.metadata["handshape"] == FEATURES_VERSION
    assert loaded.metadata["input_size"] == 28


# ------------------------------------------------------------------------ BoxCache v2

DIGESTS = [f"{c}" * 64 for c in "abcdefghijk"]


def test_box_cache_keeps_hands_across_save_and_load(tmp_path: Path) -> None:
    a, b, c, d = DIGESTS[:4]
    right = Hand.parse(POINTS.tolist(), "Right")
    unsided = Hand.parse(hand_points(9).tolist(), None)
    path = tmp_path / "boxes.json"
    BoxCache(path, {a: (1, 2, 30, 40), b: (5, 6, 70, 80), c: None},
             {a: right, b: unsided}).save()
    saved = json.loads(path.read_text())
    assert saved["detector"] == DETECTOR
    assert saved["hands"] == {a: right.to_json(), b: unsided.to_json()}
    again = BoxCache.load(path)
    assert again.hands == {a: right, b: unsided}
    assert again.hand(a) == right and again.hand(b).handedness is None
    assert again.hand(c) is None and again.hand(d) is None
    assert again.boxes == {a: (1, 2, 30, 40), b: (5, 6, 70, 80), c: None}


def test_box_cache_drops_hands_without_a_box_or_with_bad_landmarks(tmp_path: Path) -> None:
    good = {"landmarks": POINTS.tolist(), "handedness": "Right"}
    names = ["kept", "kept, side dropped", "no box", "not located", "20 points", "a string",
             "nan", "not an object", "no landmarks", "a bool"]
    digest = dict(zip(names, DIGESTS, strict=False))
    hands = {
        digest["kept"]: good,
        digest["kept, side dropped"]: {**good, "handedness": "left"},
        digest["no box"]: good,
        digest["not located"]: good,
        digest["20 points"]: {**good, "landmarks": POINTS.tolist()[:20]},
        digest["a string"]: {**good, "landmarks": _replace((4, 0), "12")},
        digest["nan"]: {**good, "landmarks": _replace((4, 0), math.nan)},
        digest["not an object"]: POINTS.tolist(),
        digest["no landmarks"]: {"handedness": "Left"},
        digest["a bool"]: {**good, "landmarks": _replace((0, 0), False)},
    }
    boxes = {d: [10, 10, 50, 50] for d in hands if d != digest["not located"]}
    boxes[digest["no box"]] = None
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"detector": DETECTOR, "boxes": boxes, "hands": hands}))
    cache = BoxCache.load(path)
    assert set(cache.hands) == {digest["kept"], digest["kept, side dropped"]}
    assert cache.hand(digest["kept"]) == Hand.parse(POINTS.tolist(), "Right")
    assert cache.hand(digest["kept, side dropped"]).handedness is None
    assert len(cache.boxes) == len(boxes)  # a bad hand never costs its box


@pytest.mark.parametrize("hands", [None, [], "text", 3])
def test_box_cache_without_a_hands_object_keeps_its_boxes(tmp_path: Path, hands) -> None:
    path = tmp_path / "boxes.json"
    payload = {"detector": DETECTOR, "boxes": {DIGESTS[0]: [1, 2, 3, 4]}}
    if hands is not None:
        payload["hands"] = hands
    path.write_text(json.dumps(payload))
    cache = BoxCache.load(path)
    assert cache.boxes == {DIGESTS[0]: (1, 2, 3, 4)} and cache.hands == {}


# ---------------------------------------------------------------- live: a fused model served

BOX = [200, 120, 160, 200]
# A hand whose middle-finger base (landmark 9) lies right of the wrist in the frame.
LIVE_POINTS = hand_points(11, wrist=(280.0, 300.0), size=70.0)
LIVE_POINTS[9] = [340.0, 260.0, 0.0]
LANDMARKS = LIVE_POINTS.tolist()
X9 = 1 + 9 * 3  # that landmark's x in the feature vector
RIGHT_LETTER, LEFT_LETTER = "R", "L"


def forcing_branch():
    """A branch that reads one number, landmark 9's x: right of the wrist -> +100 x on R's
    logit, left of it -> on L's. With no hand it adds nothing, as every branch. A plain
    bias-free MLP, not nets.build_handshape_branch: that one answers a hand and its mirror
    image alike, and here the side must show, to prove the page's handedness reaches the
    model."""
    import keras

    inputs = keras.Input(shape=(FEATURES,), name="handshape")
    hidden = keras.layers.Dense(2, activation="relu", use_bias=False)(inputs)
    branch = keras.Model(inputs, keras.layers.Dense(24, use_bias=False)(hidden))
    first = np.zeros((FEATURES, 2), np.float32)
    first[X9] = [1.0, -1.0]
    last = np.zeros((2, 24), np.float32)
    last[0, letter_to_class(RIGHT_LETTER)] = 100.0
    last[1, letter_to_class(LEFT_LETTER)] = 100.0
    branch.set_weights([first, last])
    return branch


@pytest.fixture(scope="module")
def hand_models_dir(tmp_path_factory) -> Path:
    """Overrides conftest's for this module, so its `hand_server` serves a fused model: `hand`
    is a 28 px `cnn` (crop "hand") fused with forcing_branch()."""
    import keras

    keras.utils.set_random_seed(4)
    folder = tmp_path_factory.mktemp("fused-hand-models")
    fused = nets.build_fused(nets.build_model("cnn", 28), forcing_branch())
    Registry(folder).save(fused, "hand", FUSED_METADATA)
    return folder


FRAME = png(640, 480)


@pytest.fixture(scope="module")
def plain_top(hand_models_dir) -> list[list]:
    """The top 3 [letter, p] the served model gives FRAME's box crop with no hand shape."""
    from webapp.model.letters import top_predictions

    model = Registry(hand_models_dir).load("hand").model
    x = preprocess(FRAME, DEFAULT_CROP_FRACTION, 28, box=BOX)[np.newaxis]
    probs = predict_probs(model, x)[0]
    assert probs.max() < 0.5  # an untrained image model: nothing like the forced letters
    return top_predictions(probs)


@pytest.fixture(scope="module")
def sio(hand_server):
    """One connection for the module: every refusal below must leave it answering (and a
    disconnect costs seconds)."""
    client = hand_server.connect()
    yield client
    client.disconnect()


def ask(sio, frame_id: int, **extra) -> tuple[str, dict]:
    """Send FRAME with `extra` fields; the answer (skipping `model` announcements)."""
    sio.emit("frame", {"id": frame_id, "image": FRAME, **extra})
    while True:
        event, data = sio.receive(timeout=TIMEOUT)
        if event != "model":
            assert data["id"] == frame_id, data
            return event, data


def assert_plain(data: dict, plain_top: list[list]) -> None:
    assert [letter for letter, _ in data["top"]] == [letter for letter, _ in plain_top]
    assert [p for _, p in data["top"]] == pytest.approx([p for _, p in plain_top], abs=2e-4)


def test_the_landmarks_reach_a_fused_model(hand_server, sio, plain_top) -> None:
    assert hand_server.state.inference.served.spec.handshape is not None
    event, data = ask(sio, 1, box=BOX)
    assert event == "prediction" and data["model"] == "hand", data
    assert_plain(data, plain_top)
    for frame_id, side, letter in ((2, "Right", RIGHT_LETTER), (3, "Left", LEFT_LETTER),
                                   (4, None, RIGHT_LETTER)):
        event, data = ask(sio, frame_id, box=BOX, landmarks=LANDMARKS, handedness=side)
        assert event == "prediction", data
        assert data["top"][0][0] == letter and data["confidence"] > 0.99, (side, data)
    # A hand the features cannot scale (all in one point) is no hand: the image alone.
    event, data = ask(sio, 5, box=BOX, landmarks=[[300, 200, 0]] * NUM_LANDMARKS)
    assert event == "prediction"
    assert_plain(data, plain_top)
    event, data = ask(sio, 6, box=BOX, landmarks=None, handedness="Left")
    assert_plain(data, plain_top)


BAD_FRAMES = [
    ("landmarks without a box", {"landmarks": LANDMARKS}),
    ("landmarks with a null box", {"box": None, "landmarks": LANDMARKS, "handedness": "Right"}),
    ("20 landmarks", {"box": BOX, "landmarks": LANDMARKS[:20]}),
    ("22 landmarks", {"box": BOX, "landmarks": LANDMARKS + [[1, 2, 3]]}),
    ("a string coordinate", {"box": BOX, "landmarks": _replace((2, 0), "12")}),
    ("a bool coordinate", {"box": BOX, "landmarks": _replace((2, 1), True)}),
    ("a nan coordinate", {"box": BOX, "landmarks": _replace((2, 2), math.nan)}),
    ("landmarks as an object", {"box": BOX, "landmarks": {"0": [1, 2, 3]}}),
    ("landmarks as a string", {"box": BOX, "landmarks": "21 points"}),
    ("lowercase handedness", {"box": BOX, "landmarks": LANDMARKS, "handedness": "left"}),
    ("numeric handedness", {"box": BOX, "landmarks": LANDMARKS, "handedness": 1}),
    ("handedness as a list", {"box": BOX, "landmarks": LANDMARKS, "handedness": ["Left"]}),
]


@pytest.mark.parametrize("extra", [b[1] for b in BAD_FRAMES], ids=[b[0] for b in BAD_FRAMES])
def test_bad_landmarks_are_refused_and_the_next_frame_works(hand_server, sio, plain_top,
                                                            extra: dict) -> None:
    stats = hand_server.state.inference.stats
    before = stats()["frames_rejected"].get("bad_landmarks", 0)
    event, data = ask(sio, 20, **extra)
    assert (event, data["code"]) == ("error", "bad_landmarks"), data
    assert "landmarks" in data["message"] or "handedness" in data["message"], data
    assert stats()["frames_rejected"]["bad_landmarks"] == before + 1
    event, data = ask(sio, 21, box=BOX, landmarks=LANDMARKS, handedness="Left")
    assert event == "prediction" and data["top"][0][0] == LEFT_LETTER, data
    event, data = ask(sio, 22, box=BOX)
    assert event == "prediction"
    assert_plain(data, plain_top)


def test_the_payload_check_refuses_a_landmark_beyond_float_range() -> None:
    """Engine.IO's JSON refuses such integers already; validate_frame must say bad_landmarks,
    not raise OverflowError, for any other caller."""
    with pytest.raises(BadFrame) as caught:
        validate_frame({"id": 7, "image": FRAME, "box": BOX,
                        "landmarks": _replace((0, 0), 10**400)}, 1 << 20)
    assert (caught.value.code, caught.value.frame_id) == ("bad_landmarks", 7)
    frame_id, image = validate_frame({"id": 8, "image": FRAME, "box": BOX,
                                      "landmarks": LANDMARKS, "handedness": "Right"}, 1 << 20)
    assert (frame_id, image) == (8, FRAME)
