"""webapp/train/splits: the named, versioned photo split that real-world accuracy is measured on."""

from __future__ import annotations

import csv
import json

import pytest

from webapp import config
from webapp.train import splits


@pytest.fixture(scope="module")
def v1() -> splits.PhotoSplit:
    return splits.load("photos-v1")


def test_photos_v1_holds_out_enough_real_world_sources(v1) -> None:
    assert splits.DEFAULT_SPLIT == "photos-v1" and v1.name == "photos-v1"
    assert len(v1.held_out) >= 6, sorted(v1.held_out)
    assert len(v1.held_out & v1.raw_webcam) >= 4, sorted(v1.held_out & v1.raw_webcam)
    assert v1.held_out & v1.multi_person, "no multi-person source is held out"
    assert v1.validation and not v1.held_out & v1.validation
    assert all(isinstance(name, str) and name for name in v1.held_out | v1.validation)


def test_role_of_a_source(v1) -> None:
    held = sorted(v1.held_out)[0]
    val = sorted(v1.validation)[0]
    assert v1.role(held) == "held_out"
    assert v1.role(val) == "validation"
    assert v1.role("jbhumika") == "train" and v1.role("") == "train"
    assert {v1.role(s) for s in v1.held_out} == {"held_out"}


def test_file_and_loaded_split_agree(v1) -> None:
    raw = json.loads((splits._FOLDER / "photos-v1.json").read_text())
    assert raw["name"] == "photos-v1"
    for key in ("held_out", "validation", "raw_webcam", "multi_person"):
        assert getattr(v1, key) == frozenset(raw[key]), key
        assert len(raw[key]) == len(set(raw[key])), f"{key} lists a source twice"
    assert "photos-v1" in splits.available()


def test_every_named_source_is_in_the_photo_manifest(v1) -> None:
    manifest = config.photos_dir() / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{manifest} is absent (CI has ../shared/photos)")
    with manifest.open(newline="") as handle:
        tags = {row["source_tag"] for row in csv.DictReader(handle)}
    named = v1.held_out | v1.validation | v1.raw_webcam | v1.multi_person
    assert named - tags == set(), f"not in {manifest}: {sorted(named - tags)}"
    assert tags - v1.held_out - v1.validation, "nothing would be left to train on"


def test_unknown_split_names_the_known_ones() -> None:
    with pytest.raises(splits.SplitError) as info:
        splits.load("photos-v0")
    message = str(info.value)
    assert "'photos-v0'" in message and "photos-v1" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(splits.SplitError, match="known: "):
        splits.load("../photos-v1")  # a path is not a name


def test_a_malformed_or_overlapping_split_file_is_a_split_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(splits, "_FOLDER", tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "nameless.json").write_text(json.dumps({"held_out": ["a"]}))
    (tmp_path / "both.json").write_text(json.dumps(
        {"name": "both", "held_out": ["a", "b"], "validation": ["b"]}))
    assert splits.available() == ["both", "broken", "nameless"]
    with pytest.raises(splits.SplitError, match="'broken' cannot be read"):
        splits.load("broken")
    with pytest.raises(splits.SplitError, match="'nameless' cannot be read"):
        splits.load("nameless")
    with pytest.raises(splits.SplitError, match="both held out and validation"):
        splits.load("both")
