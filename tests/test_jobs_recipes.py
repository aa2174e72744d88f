"""The admin trains what ships: the real-world recipe (photos, hand crop, then the hand-shape
branch) as one run, `fuse` as a run of its own, and every run scored on the split's held-out
photo sources for the models table. Real child processes on a tiny synthetic folder whose box
cache is written here as `signlive locate` would (no Chromium)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adminkit import photos_only_admin
from imagekit import letter_hand, make_photos
from modelkit import register

from webapp.admin import runparams
from webapp.files import file_sha256
from webapp.model.handshape import FEATURES_VERSION
from webapp.model.registry import Registry
from webapp.model.spec import ModelSpec
from webapp.train import splits
from webapp.train.locate import BoxCache

pytestmark = pytest.mark.slow

SPLIT = splits.load("photos-v1")
TRAIN, VALIDATION, HELD_OUT = ["cam", "phone"], ["kennethowen26"], ["mariia00"]
RUN = {"arch": "cnn", "epochs": 1, "batch_size": 8, "learning_rate": 0.002, "augment": False,
       "negatives": 0.0, "train_on": "photos", "crop": "hand", "input_size": 28}


def test_the_sources_used_here_have_the_roles_assumed() -> None:
    assert [SPLIT.role(s) for s in TRAIN + VALIDATION + HELD_OUT] == [
        "train", "train", "validation", "held_out"]


@pytest.fixture
def admin(make_admin_app, tmp_path, monkeypatch):
    """A dashboard over a located photo folder: A-C, 5 photos of each of 4 sources, a box and
    letter-shaped landmarks for every photo (the held-out ones too: they are scored)."""
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "cache"))
    photos = make_photos(tmp_path / "photos", TRAIN + VALIDATION + HELD_OUT, per_letter=5)
    cache = BoxCache.load()
    rng = np.random.default_rng(0)
    for photo in photos:
        cache.boxes[file_sha256(photo)] = (8, 6, 40, 40)
        cache.hands[file_sha256(photo)] = letter_hand(photo.parent.name, rng)
    cache.save()
    return photos_only_admin(make_admin_app, tmp_path)


def _run(admin, body: dict) -> dict:
    response = admin.post("/api/runs", json=body)
    assert response.status_code == 202, response.get_json()
    manager = admin.application.extensions["signlive.jobs"]
    manager.wait(240)
    assert manager.current() is None, "the run did not finish in time"
    return admin.get(f"/api/runs/{response.get_json()['id']}").get_json()


def test_the_form_offers_the_real_world_recipe_first(admin) -> None:
    page = admin.get("/admin").get_data(as_text=True)
    recipes = list(runparams.RECIPES)
    assert recipes[0] == "real-world" and {"article-cnn", "article-resnet50"} <= set(recipes)
    real = runparams.RECIPES["real-world"]
    assert (real["train_on"], real["crop"], real["input_size"], real["hand_shape"]) == (
        "both", "hand", 56, True)
    assert '"recipes"' in page and "Real world" in page
    # Every recipe is a run the API accepts as it stands.
    for recipe in runparams.RECIPES.values():
        body = {k: v for k, v in recipe.items() if k != "label"}
        assert runparams.validate_params(body)["arch"] == recipe["arch"]


def test_the_real_world_run_trains_fuses_and_scores_the_held_out_photos(admin, models_dir):
    run = _run(admin, dict(RUN, hand_shape=True, name="real"))
    assert run["status"] == "succeeded", run.get("error")
    assert run["trained_on"] == "photos (hand crop, split photos-v1) + hand shape"
    registry = Registry(models_dir)
    fused, image = registry.load("real"), registry.load("real-image")
    assert fused.spec == ModelSpec(28, "hand").with_hand_shape()
    assert image.spec == ModelSpec(28, "hand")
    held = fused.metadata["held_out"]
    assert held["split"] == "photos-v1" and held["n"] == 15  # 3 letters x 5 of mariia00
    assert 0.0 <= held["accuracy"] <= 1.0 and held["raw_webcam"] == held["accuracy"]
    lines = [entry["line"] for entry in run["log"]]
    assert any("hand shape epoch" in line for line in lines)
    assert any("held-out photos (15): accuracy" in line for line in lines)
    listed = {m["name"]: m for m in admin.get("/api/models").get_json()["models"]}
    assert listed["real"]["held_out"] == held and listed["real"]["handshape"] == FEATURES_VERSION
    assert listed["real"]["sign_mnist"] is None  # a photos run: its test is not Sign MNIST

    # The fused model's branch trained anew, as a run of its own from the dashboard.
    again = _run(admin, {"kind": "fuse", "base": "real-image", "epochs": 3})
    assert again["status"] == "succeeded", again.get("error")
    assert again["name"] == "real-image-handshape"
    assert again["trained_on"] == "hand shape on real-image"
    assert len(again["epochs"]) == 3  # a fuse run charts the branch's epochs
    assert registry.load("real-image-handshape").metadata["held_out"]["n"] == 15


@pytest.mark.parametrize("body, field, why", [
    (dict(RUN, crop="guide", hand_shape=True), "hand_shape", "with the hand crop"),
    (dict(RUN, train_on="csv", hand_shape=True), "hand_shape", "train on photos"),
    (dict(RUN, hand_shape="yes"), "hand_shape", "true or false"),
    ({"kind": "fuse", "base": "guide"}, "base", "reads the guide square"),
    ({"kind": "fuse", "base": "nowhere"}, "base", "no model named 'nowhere'"),
    ({"kind": "fuse", "base": "hand", "epochs": 0}, "epochs", "from 1 to 1000"),
    ({"kind": "fuse", "base": "hand", "arch": "cnn"}, "arch", "unknown field"),
    ({"kind": "distill"}, "kind", "must be \"train\", \"fuse\" or \"motion\""),
])
def test_bad_recipe_and_fuse_runs_are_refused(admin, models_dir, body, field, why) -> None:
    register(models_dir, "guide")
    register(models_dir, "hand", spec=ModelSpec(28, "hand"))
    response = admin.post("/api/runs", json=body)
    assert response.status_code in (400, 404), response.get_json()
    assert response.get_json()["field"] == field and why in response.get_json()["error"]
    assert admin.get("/api/runs").get_json()["runs"] == []


def test_a_failed_real_world_run_leaves_neither_model(admin, models_dir, tmp_path):
    # No validation source in the folder: the image model trains, the branch cannot.
    for photo in (tmp_path / "photos").glob("*/kennethowen26_*.jpg"):
        photo.unlink()
    run = _run(admin, dict(RUN, hand_shape=True, name="half"))
    assert run["status"] == "failed" and "validation photos" in run["error"]
    registry = Registry(models_dir)
    assert not registry.exists("half") and not registry.exists("half-image")
    assert not [p for p in Path(models_dir).iterdir() if p.name.startswith(("half", ".half"))]


def test_the_motion_reader_trains_as_a_run(admin, models_dir, tmp_path, monkeypatch):
    """The dashboard trains the J/Z reader too, on the tracks the child finds (its people in
    motion-v1's roles), and registers it with its held-out people's figures."""
    from trackkit import write_people

    folder = write_people(tmp_path / "motion", {"cam": 6, "tresajoby": 6, "alex": 2,
                                                "danial": 2})
    monkeypatch.setenv("SIGNLIVE_MOTION", str(folder))
    run = _run(admin, {"kind": "motion", "epochs": 2, "name": "jz"})
    assert run["status"] == "succeeded", run.get("error")
    assert run["trained_on"] == "landmark tracks (J, Z), split motion-v1"
    assert any("training windows" in entry["line"] for entry in run["log"])
    from webapp.model.registry import load_motion_file

    loaded = load_motion_file(Path(models_dir) / "jz.keras")
    assert set(loaded.metadata["held_out_people"]) == {"danial"}
    # Three readers from three seeds, averaged in one file (train.motion's members).
    assert loaded.metadata["members"] == 3 and len(loaded.metadata["best_epoch"]) == 3
    assert any(entry["line"].startswith("reader 3/3: ") for entry in run["log"])
    listed = {m["name"]: m for m in admin.get("/api/models").get_json()["models"]}
    assert listed["jz"]["kind"] == "motion" and "danial" in listed["jz"]["held_out_people"]
    refused = admin.post("/api/models/jz/activate")  # it is no letter model
    assert refused.status_code == 422 and "not a letter model" in refused.get_json()["error"]


@pytest.mark.parametrize("body, field", [
    ({"kind": "motion", "epochs": 0}, "epochs"),
    ({"kind": "motion", "arch": "cnn"}, "arch"),
])
def test_bad_motion_runs_are_refused(admin, body, field) -> None:
    response = admin.post("/api/runs", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field
