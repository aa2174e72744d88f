"""Photo folders under a named split (webapp/signmnist.py): held-out sources are never read,
validation sources validate, CSV + photos mix, and the hand crop follows cached boxes."""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagekit import make_photos

from webapp.files import DataError, file_sha256
from webapp.model.letters import letter_to_class
from webapp.model.preprocess import hand_square, preprocess
from webapp.model.spec import ModelSpec
from webapp.train import negatives, photofolder, splits, trainingsets
from webapp.train.locate import BoxCache
from webapp.train.training import ConfigError, TrainConfig

HAND28 = ModelSpec(28, "hand")  # a 28 px hand-crop model

SPLIT = splits.load("photos-v1")
# Real source tags of photos-v1, one per role (and two of each where it matters).
HELD_OUT = ["mariia00", "massey"]  # a raw-webcam and a multi-person held-out source
VALIDATION = ["kennethowen26"]
TRAIN = ["hackmit", "jbhumika"]
HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def test_the_tags_used_here_have_the_roles_assumed() -> None:
    assert [SPLIT.role(s) for s in HELD_OUT] == ["held_out", "held_out"]
    assert [SPLIT.role(s) for s in VALIDATION] == ["validation"]
    assert [SPLIT.role(s) for s in TRAIN] == ["train", "train"]


@pytest.fixture()
def split_photos(tmp_path: Path) -> Path:
    """A, B, C x 2 photos of each of 5 sources (30 noise photos), named as in photos-v1."""
    make_photos(tmp_path / "photos", HELD_OUT + VALIDATION + TRAIN, per_letter=2)
    return tmp_path / "photos"


def _files(root: Path, sources: list[str]) -> list[Path]:
    """The photos of `sources` in the order a folder is read (letter, then name)."""
    return [p for p in sorted(root.glob("*/*.jpg")) if photofolder.photo_source(p) in sources]


def _expected(files: list[Path], **kwargs) -> np.ndarray:
    return np.stack([preprocess(p.read_bytes(), **kwargs) for p in files])


# ------------------------------------------------------------------------ photos + split


def test_held_out_sources_are_never_read(split_photos: Path, monkeypatch) -> None:
    reads: list[str] = []
    real = photofolder._load_photo

    def counting(item, *args):
        reads.append(photofolder.photo_source(item))
        return real(item, *args)

    monkeypatch.setattr(photofolder, "_load_photo", counting)
    sets = trainingsets.load_training_data(None, spec=ModelSpec(28), photos=split_photos,
                                           split="photos-v1")
    assert sorted(set(reads)) == sorted(VALIDATION + TRAIN) and len(reads) == 18
    # Train = the train sources, validation = the validation sources, and for photos alone the
    # test is the validation set (the held-out ones are for `signlive evaluate` only).
    np.testing.assert_array_equal(sets.x_train, _expected(_files(split_photos, TRAIN)))
    np.testing.assert_array_equal(sets.x_val, _expected(_files(split_photos, VALIDATION)))
    assert sets.y_train.tolist() == [letter_to_class(c) for c in "AAAABBBBCCCC"]
    assert sets.y_val.tolist() == [letter_to_class(c) for c in "AABBCC"]
    assert sets.test.sources == VALIDATION * 6
    assert sets.test.paths == [str(p) for p in _files(split_photos, VALIDATION)]
    np.testing.assert_array_equal(sets.test.x, sets.x_val)
    assert "split photos-v1: train on 2 sources, validate on 1" in sets.description
    assert f"{len(SPLIT.held_out)} held out unread" in sets.description

    # Held-out photos turned to garbage change nothing: not read, not skipped, not hashed.
    for path in _files(split_photos, HELD_OUT):
        path.write_bytes(b"\x89PNG\r\n\x1a\n not a photo any more")
    again = trainingsets.load_training_data(None, spec=ModelSpec(28), photos=split_photos,
                                    split="photos-v1")
    assert again.sha256 == sets.sha256 and len(again.sha256) == 64
    np.testing.assert_array_equal(again.x_train, sets.x_train)
    assert again.description == sets.description  # "0 skipped": nothing was decoded
    assert "18 photos, 0 skipped" in again.description
    assert len(reads) == 36  # 18 more, none of them held out
    assert not set(reads) & set(HELD_OUT)


def test_a_photo_folder_given_as_the_data_path_uses_the_split(split_photos: Path) -> None:
    # the default split: photos-v1
    sets = trainingsets.load_training_data(split_photos, spec=ModelSpec(28))
    assert len(sets.x_train) == 12 and len(sets.x_val) == 6
    assert set(sets.test.sources) == set(VALIDATION)


def test_a_folder_of_only_validation_or_held_out_sources(tmp_path: Path) -> None:
    only_val = tmp_path / "val"
    make_photos(only_val, VALIDATION + HELD_OUT, per_letter=1)
    with pytest.raises(DataError, match="only validation sources of split photos-v1"):
        trainingsets.load_training_data(None, photos=only_val, split="photos-v1")
    only_held = tmp_path / "held"
    make_photos(only_held, HELD_OUT, per_letter=1)
    with pytest.raises(DataError, match="no usable images"):
        trainingsets.load_training_data(None, photos=only_held, split="photos-v1")


def test_a_folder_sharing_no_source_with_the_split_draws_its_own_test(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, ["cam", "phone", "studio", "web"], per_letter=2)
    sets = trainingsets.load_training_data(None, photos=root, split="photos-v1", val_fraction=0.0)
    assert "held-out test, sources" in sets.test.description
    held = set(sets.test.sources)
    assert held and len(sets.test) == 6 * len(held)  # whole sources: 3 letters x 2 photos
    assert len(sets.test) + len(sets.x_train) == 24


def test_unknown_split_and_nothing_to_train_on(split_photos: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'photos-v0'; known: .*photos-v1"):
        trainingsets.load_training_data(None, photos=split_photos, split="photos-v0")
    with pytest.raises(DataError, match="nothing to train on"):
        trainingsets.load_training_data(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no sign_mnist_train.csv"):
        trainingsets.load_training_data(tmp_path / "empty", photos=split_photos)


# ---------------------------------------------------------------------------- CSV + photos


def _csv_folder(folder: Path) -> Path:
    """Train: 10 rows of A (pixels 11) and 10 of B (pixels 22). Test: 3 rows of Y (33)."""
    folder.mkdir()
    train = [f"{label}," + ",".join([str(fill)] * 784) for label, fill in [(0, 11), (1, 22)]
             for _ in range(10)]
    test = ["24," + ",".join(["33"] * 784)] * 3
    for name, rows in (("sign_mnist_train", train), ("sign_mnist_test", test)):
        text = HEADER + "\n" + "\n".join(rows) + "\n"
        (folder / f"{name}.csv.gz").write_bytes(gzip.compress(text.encode()))
    return folder


def test_csv_and_photos_mix(split_photos: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", "off")
    csv_dir = _csv_folder(tmp_path / "csv")
    sets = trainingsets.load_training_data(csv_dir, spec=ModelSpec(28), photos=split_photos,
                                   split="photos-v1", val_fraction=0.2, seed=0)
    # CSV: 20 rows -> 16 train + 4 validation (2 of each letter); photos: 12 train + 6 val.
    assert sets.x_train.shape == (28, 28, 28, 1) and sets.x_val.shape == (10, 28, 28, 1)
    assert sets.y_train.shape == (28,) and sets.y_val.shape == (10,)
    csv_values = np.rint(sets.x_train[:16] * 255)
    assert sorted(np.unique(csv_values).tolist()) == [11, 22]
    np.testing.assert_array_equal(sets.x_train[16:], _expected(_files(split_photos, TRAIN)))
    np.testing.assert_array_equal(sets.x_val[4:], _expected(_files(split_photos, VALIDATION)))
    assert sorted(np.rint(sets.x_val[:4] * 255).reshape(4, -1)[:, 0].tolist()) == [11, 11, 22, 22]
    # The test is the CSV test split, never a photo.
    assert len(sets.test) == 3 and sets.test.paths is None
    assert sets.test.y.tolist() == [letter_to_class("Y")] * 3
    assert " + " in sets.description and "split photos-v1" in sets.description
    photos_only = trainingsets.load_training_data(None, spec=ModelSpec(28), photos=split_photos)
    csv_only = trainingsets.load_training_data(csv_dir, val_fraction=0.2)
    assert len({sets.sha256, photos_only.sha256, csv_only.sha256}) == 3


# ------------------------------------------------------------------------------- hand crop


HAND_FILES = {  # photo -> its hand box (None: the locator found no hand)
    "A/jbhumika_1.png": [5, 5, 20, 20],  # hand square (0, 0, 30): outside the guide square
    "B/hackmit_1.png": None,
    "C/kennethowen26_1.png": [130, 95, 20, 20],  # hand square (125, 90, 30), at the corner
}


@pytest.fixture()
def hand_photos(tmp_path: Path) -> Path:
    """120x160 photos: dark, bright exactly on the square around the hand box; the one
    without a hand is noise; a held-out photo that the locator has never seen."""
    rng = np.random.default_rng(3)
    root = tmp_path / "hands"
    for rel, box in HAND_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if box is None:
            image = rng.integers(0, 256, (120, 160), dtype=np.uint8)
        else:
            image = np.zeros((120, 160), np.uint8)
            sq = hand_square(box, 120, 160)
            image[sq.y : sq.y + sq.side, sq.x : sq.x + sq.side] = 255
        cv2.imwrite(str(root / rel), image)
    cv2.imwrite(str(root / "A" / "mariia00_1.png"), np.full((120, 160), 9, np.uint8))
    return root


def _box_cache(root: Path, path: Path | None) -> BoxCache:
    cache = BoxCache(path)
    for rel, box in HAND_FILES.items():
        cache.boxes[file_sha256(root / rel)] = None if box is None else tuple(box)
    return cache


def test_hand_crop_needs_located_photos(hand_photos: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(DataError) as info:
        trainingsets.load_training_data(None, spec=HAND28, photos=hand_photos, split="photos-v1")
    message = str(info.value)
    assert f"signlive locate {hand_photos}" in message and "3 of 3 photos" in message
    with pytest.raises(DataError, match="4 of 4 photos have no hand box yet"):
        photofolder.load_photo_folder(hand_photos, spec=HAND28, boxes=BoxCache(None))
    # One photo missing is enough to refuse (a partly located folder is not silently mixed).
    partial = _box_cache(hand_photos, None)
    with pytest.raises(DataError, match="1 of 4 photos .* run `signlive locate"):
        photofolder.load_photo_folder(hand_photos, spec=HAND28, boxes=partial)


def test_hand_crop_follows_the_cached_box(hand_photos: Path, tmp_path: Path, monkeypatch) -> None:
    from webapp.train import locate

    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "cache"))
    cache = _box_cache(hand_photos, locate.default_cache_path())
    cache.save()
    assert cache.path.parent == tmp_path / "cache"

    sets = trainingsets.load_training_data(None, spec=HAND28, photos=hand_photos, split="photos-v1")
    # The held-out photo was never located and never needed to be.
    assert len(sets.x_train) == 2 and len(sets.x_val) == 1
    np.testing.assert_array_equal(sets.x_train[0], np.ones((28, 28, 1), np.float32))  # the box
    np.testing.assert_array_equal(sets.x_val[0], np.ones((28, 28, 1), np.float32))
    # No hand found -> the guide square, exactly what crop "guide" gives for that photo.
    no_hand = hand_photos / "B" / "hackmit_1.png"
    guide = trainingsets.load_training_data(None, spec=ModelSpec(28), photos=hand_photos,
                                            split="photos-v1")
    np.testing.assert_array_equal(sets.x_train[1], guide.x_train[1])
    np.testing.assert_array_equal(sets.x_train[1], preprocess(no_hand.read_bytes()))
    assert 0.3 < sets.x_train[1].mean() < 0.7  # noise, not a blank
    # With a box, the guide square sees (almost) none of the bright square.
    assert guide.x_train[0].max() == 0.0 and guide.x_val[0].mean() < 0.2
    assert "hand crop, hand found in 2" in sets.description


def test_hand_crop_with_explicit_boxes(hand_photos: Path) -> None:
    cache = _box_cache(hand_photos, None)
    held = hand_photos / "A" / "mariia00_1.png"
    cache.boxes[file_sha256(held)] = (1000, 1000, 5, 5)  # outside its 160x120 frame
    ds = photofolder.load_photo_folder(hand_photos, spec=HAND28, boxes=cache)
    assert [Path(p).name for p in ds.paths] == ["jbhumika_1.png", "hackmit_1.png",
                                                "kennethowen26_1.png"]
    assert len(ds.skipped) == 1 and ds.skipped[0].startswith(f"{held}: box ")
    assert "outside the 160x120 frame" in ds.skipped[0]
    assert ds.x[0].min() == 1.0 and ds.x[2].min() == 1.0
    # crop "guide" ignores any boxes; `sources` filters before anything is read.
    guide = photofolder.load_photo_folder(hand_photos, spec=ModelSpec(28), boxes=cache,
                                   sources=lambda s: s != "mariia00")
    np.testing.assert_array_equal(guide.x, _expected([hand_photos / r for r in HAND_FILES]))


def test_is_photo_folder(split_photos: Path, tmp_path: Path) -> None:
    assert photofolder.is_photo_folder(split_photos)
    assert photofolder.is_photo_folder(str(split_photos))
    assert not photofolder.is_photo_folder(_csv_folder(tmp_path / "csv"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "lower").mkdir()
    assert not photofolder.is_photo_folder(tmp_path / "plain")
    assert not photofolder.is_photo_folder(tmp_path / "nowhere")
    assert not photofolder.is_photo_folder(split_photos / "A" / "hackmit_0.jpg")


def test_load_dataset_passes_crop_and_sources(hand_photos: Path, split_photos: Path,
                                              tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "no-boxes"))
    only = trainingsets.load_dataset(split_photos, sources=lambda s: s in HELD_OUT)
    assert sorted(set(only.sources)) == sorted(HELD_OUT) and len(only) == 12
    boxes = _box_cache(hand_photos, None)
    with pytest.raises(DataError, match="signlive locate"):  # the default cache is empty
        trainingsets.load_dataset(hand_photos, spec=HAND28, sources=lambda s: s == "jbhumika")
    hand = photofolder.load_photo_folder(hand_photos, spec=HAND28, boxes=boxes,
                                  sources=lambda s: s == "jbhumika")
    assert len(hand) == 1 and hand.x.min() == 1.0


# --------------------------------------------------------------------------- TrainConfig


@pytest.mark.parametrize("field, value", [
    ("train_on", "pictures"), ("train_on", ""), ("train_on", None),
    ("crop", "box"), ("crop", "Hand"), ("crop", None),
    ("split", "photos-v0"), ("split", "../photos-v1"), ("split", ""),
])
def test_validate_names_the_photo_fields(field, value) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value}).validate()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ") and repr(value) in str(info.value)


def test_photo_fields_accept_every_documented_value() -> None:
    for train_on in ("csv", "photos", "both"):
        for crop in ("hand", "guide"):
            config = TrainConfig(train_on=train_on, crop=crop, split="photos-v1").validate()
            assert (config.train_on, config.crop) == (train_on, crop)
    defaults = TrainConfig()
    assert (defaults.train_on, defaults.crop, defaults.split) == ("csv", "hand", "photos-v1")


# ------------------------------------------------------------------------ room negatives


def _room_photo(path: Path, box: list[int], size: tuple[int, int] = (240, 320)) -> Path:
    """A dark frame whose hand square (and the arm below it) is white: any crop that touches
    them has white pixels."""
    height, width = size
    image = np.full((height, width), 20, np.uint8)
    square = hand_square(box, height, width)
    image[square.y:, square.x : square.x + square.side] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


def test_room_crops_stay_clear_of_the_hand_and_the_arm(tmp_path: Path) -> None:
    photos = [_room_photo(tmp_path / f"A/kynmiiso_{i}.png", [100 + 10 * i, 60, 30, 50])
              for i in range(8)]
    cache = BoxCache(tmp_path / "boxes.json")
    for i, photo in enumerate(photos):
        cache.boxes[file_sha256(photo)] = (100 + 10 * i, 60, 30, 50)
    crops = negatives.room_crops([str(p) for p in photos], 12, 32, seed=3, boxes=cache)
    assert crops.shape[1:] == (32, 32, 1)
    assert 4 <= len(crops) <= 8  # at most one crop a photo
    assert crops.max() < 30 / 255  # never a white (hand or arm) pixel


def test_room_crops_skip_cropped_hands_and_photos_without_a_hand(tmp_path: Path) -> None:
    big = _room_photo(tmp_path / "A/jbhumika_1.png", [40, 20, 200, 200])  # the hand fills it
    none = _room_photo(tmp_path / "A/jbhumika_2.png", [120, 60, 30, 50])
    unknown = _room_photo(tmp_path / "A/jbhumika_3.png", [100, 60, 30, 50])
    cache = BoxCache(tmp_path / "boxes.json")
    cache.boxes[file_sha256(big)] = (40, 20, 200, 200)
    cache.boxes[file_sha256(none)] = None
    crops = negatives.room_crops([str(big), str(none), str(unknown)], 5, 28, boxes=cache)
    assert crops.shape == (0, 28, 28, 1)
