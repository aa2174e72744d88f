"""Training jobs on the photo folder: real child processes on a tiny synthetic folder.

Each run trains a `cnn` for 1 epoch on 27 photos of 3 letters, so it takes seconds (most of
it the child's TensorFlow import). The Sign MNIST folder is empty on purpose: a photos run
must not need it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from adminkit import photos_only_admin
from imagekit import make_photos

from webapp.files import file_sha256
from webapp.model.registry import Registry
from webapp.train.locate import BoxCache

pytestmark = pytest.mark.slow

RUN = {"arch": "cnn", "epochs": 1, "batch_size": 8, "learning_rate": 0.002, "augment": False,
       "negatives": 0.0, "train_on": "photos", "input_size": 32}


@pytest.fixture
def photos(tmp_path, monkeypatch) -> list[Path]:
    """27 photos (A-C, three sources), and an empty box cache of this test's own (the
    training process inherits SIGNLIVE_CACHE)."""
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "cache"))
    return make_photos(tmp_path / "photos", ["cam", "phone", "studio"], letters="ABC",
                       per_letter=3)


@pytest.fixture
def admin(make_admin_app, tmp_path, photos):
    return photos_only_admin(make_admin_app, tmp_path)


def _run(admin, **params) -> dict:
    response = admin.post("/api/runs", json=dict(RUN, **params))
    assert response.status_code == 202, response.get_json()
    run_id = response.get_json()["id"]
    manager = admin.application.extensions["signlive.jobs"]
    manager.wait(180)
    assert manager.current() is None, "the run did not finish in time"
    return admin.get(f"/api/runs/{run_id}").get_json()


def test_a_photos_run_with_the_guide_crop(admin, models_dir):
    run = _run(admin, crop="guide", name="photos-guide")
    assert run["status"] == "succeeded", run.get("error")
    assert run["params"]["train_on"] == "photos" and run["params"]["crop"] == "guide"
    assert run["params"]["input_size"] == 32
    assert run["trained_on"] == "photos (guide crop, split photos-v1)"
    assert any("input 32 px, photos (guide crop" in e["line"] for e in run["log"])
    # The test is a held-out source of the folder (none is in photos-v1): 3 letters x 3.
    assert sum(map(sum, run["confusion"])) % 9 == 0 and sum(map(sum, run["confusion"])) > 0
    meta = Registry(models_dir).load("photos-guide").metadata
    assert meta["input_size"] == 32 and meta["crop"] == "guide"
    assert "photos" in meta["train_data"] and "sign_mnist" not in meta["train_data"]
    listed = {r["name"]: r for r in admin.get("/api/runs").get_json()["runs"]}
    assert listed["photos-guide"]["trained_on"] == run["trained_on"]


def test_a_photos_run_with_the_hand_crop_uses_the_cached_boxes(admin, photos, models_dir):
    cache = BoxCache.load()  # what `signlive locate` writes, without Chromium
    for i, photo in enumerate(photos):
        cache.boxes[file_sha256(photo)] = None if i % 5 == 0 else (8, 6, 40, 40)
    cache.save()
    hands = sum(1 for i in range(len(photos)) if i % 5)
    status = admin.get("/api/data").get_json()["photos"]
    assert status["ok"] and status["photos"] == len(photos) and status["sources"] == 3

    run = _run(admin, crop="hand", name="photos-hand")
    assert run["status"] == "succeeded", run.get("error")
    assert run["trained_on"] == "photos (hand crop, split photos-v1)"
    meta = Registry(models_dir).load("photos-hand").metadata
    assert meta["crop"] == "hand" and meta["input_size"] == 32
    found = int(meta["train_data"].split("hand found in ")[1].split(",")[0])
    assert found == hands  # the folder's photos whose cached box holds a hand


def test_a_hand_run_without_boxes_fails_saying_to_run_locate(admin, models_dir):
    status = admin.get("/api/data").get_json()["photos"]
    assert status["ok"] is True  # the folder is there: the run starts
    run = _run(admin, crop="hand", name="photos-unlocated")
    assert run["status"] == "failed"
    assert "no hand box yet" in run["error"] and "signlive locate" in run["error"]
    assert not Registry(models_dir).exists("photos-unlocated")
    assert admin.get("/api/runs").get_json()["active"] is None
