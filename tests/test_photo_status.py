"""The photo folder's status on the dashboard: counts at once, hand-box coverage in the
background, re-read only when the folder or the box cache changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from adminkit import login, wait_for
from imagekit import make_photos

from webapp import files
from webapp.admin.photostatus import PhotoFolderStatus
from webapp.files import file_sha256
from webapp.train import photofolder
from webapp.train.locate import BoxCache, default_cache_path


@pytest.fixture
def box_cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty signlive cache folder of this test's own (the box cache lives there)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SIGNLIVE_CACHE", str(folder))
    return folder


def _save_boxes(photos: list[Path], box=(10, 10, 30, 30)) -> None:
    cache = BoxCache.load()
    for i, photo in enumerate(photos):
        cache.boxes[file_sha256(photo)] = None if i % 4 == 3 else box  # some: no hand found
    cache.save()


def test_a_missing_or_empty_folder_is_a_clear_message(tmp_path, box_cache_dir):
    missing = PhotoFolderStatus(tmp_path / "nowhere").summary()
    assert missing["ok"] is False and missing["photos"] == 0
    assert "photo folder not found" in missing["message"]
    assert "SIGNLIVE_PHOTOS" in missing["message"]
    assert "boxes" not in missing  # nothing to count
    (tmp_path / "file").write_text("x")
    assert "not a folder" in PhotoFolderStatus(tmp_path / "file").summary()["message"]
    empty = tmp_path / "empty"
    (empty / "A").mkdir(parents=True)
    (empty / "README.md").write_text("about")
    status = PhotoFolderStatus(empty).summary()
    assert status["ok"] is False and "no photos" in status["message"]


def test_counts_and_box_coverage(tmp_path, box_cache_dir):
    folder = tmp_path / "photos"
    photos = make_photos(folder, ["cam", "phone"], letters="ABC", per_letter=2)
    status = PhotoFolderStatus(folder)
    first = status.summary(wait=30)
    assert first["ok"] is True
    assert (first["photos"], first["sources"], first["letters"]) == (12, 2, 3)
    assert "12 photos of 3 letters from 2 sources" in first["message"]
    assert first["boxes_pending"] is False and first["boxes"] == 0
    assert first["boxes_ready"] is False
    assert f"signlive locate {folder}" in first["boxes_message"]

    _save_boxes(photos[:8])  # `signlive locate` got through part of the folder
    now = status.summary()
    # The cache file changed: the last numbers come back at once, marked as updating.
    assert now["boxes_pending"] is True and now["boxes"] == 0
    assert "updating" in now["boxes_message"]
    done = status.summary(wait=30)
    assert (done["boxes"], done["hands"], done["boxes_ready"]) == (8, 6, False)
    assert "8 of 12" in done["boxes_message"] and "signlive locate" in done["boxes_message"]

    _save_boxes(photos)
    ready = status.summary(wait=30)
    assert (ready["boxes"], ready["hands"], ready["boxes_ready"]) == (12, 9, True)
    assert "hand crop is ready" in ready["boxes_message"]


def test_the_folder_is_listed_and_hashed_only_when_something_changed(
        tmp_path, box_cache_dir, monkeypatch):
    folder = tmp_path / "photos"
    photos = make_photos(folder, ["cam", "phone"], letters="AB", per_letter=2)
    listings, opened = [], []
    real_list, real_open = photofolder.list_photos, Path.open
    monkeypatch.setattr(photofolder, "list_photos", lambda f: listings.append(f) or real_list(f))
    monkeypatch.setattr(Path, "open", lambda p, *args, **kwargs: opened.append(p)
                        or real_open(p, *args, **kwargs))

    def reads() -> list[Path]:
        return [p for p in opened if p.suffix == ".jpg"]

    status = PhotoFolderStatus(folder)
    assert status.summary(wait=30)["boxes"] == 0
    assert len(listings) == 1 and len(reads()) == len(photos)
    for _ in range(5):  # page loads
        assert status.summary()["photos"] == 8
    assert len(listings) == 1 and len(reads()) == len(photos)

    _save_boxes(photos)  # a new box cache: looked up again, no photo read again
    opened.clear()
    assert status.summary(wait=30)["boxes"] == 8
    assert reads() == []

    extra = make_photos(tmp_path / "more", ["web"], letters="A", per_letter=1)[0]
    extra.rename(folder / "A" / "web_0.jpg")  # the letter folder's mtime changes
    opened.clear()
    grown = status.summary(wait=30)
    assert len(listings) == 2
    # Its bytes are A/cam_0's (same seed): the box cache is keyed by content, so it has a box.
    assert (grown["photos"], grown["sources"], grown["boxes"]) == (9, 3, 9)
    assert [p.name for p in reads()] == ["web_0.jpg"]


def test_a_disabled_box_cache_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNLIVE_CACHE", "off")
    folder = tmp_path / "photos"
    make_photos(folder, ["cam"], letters="A", per_letter=1)
    status = PhotoFolderStatus(folder).summary(wait=30)
    assert status["boxes_ready"] is False and "SIGNLIVE_CACHE=off" in status["boxes_message"]


def test_a_corrupt_box_cache_counts_as_empty(tmp_path, box_cache_dir):
    folder = tmp_path / "photos"
    make_photos(folder, ["cam"], letters="A", per_letter=2)
    path = default_cache_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    status = PhotoFolderStatus(folder).summary(wait=30)
    assert status["boxes"] == 0 and "signlive locate" in status["boxes_message"]


def test_the_dashboard_shows_the_photo_folder(make_admin_app, tmp_path, box_cache_dir):
    folder = tmp_path / "dashboard-photos"
    photos = make_photos(folder, ["cam", "phone"], letters="AB", per_letter=1)
    _save_boxes(photos)
    app = make_admin_app(PHOTOS_DIR=str(folder))
    client = app.test_client()
    login(client)
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="photo-status"' in page and 'id="f-train-on"' in page
    assert 'id="f-crop"' in page and 'id="f-input-size"' in page
    config = json.loads(page.split('id="admin-config">', 1)[1].split("</script>", 1)[0])
    assert config["train_on"] == ["csv", "photos", "both"]
    assert config["crops"] == ["guide", "hand"] and "photos-v1" in config["splits"]
    # The form opens on the real-world recipe (what the shipped model was made with).
    assert {k: config["defaults"][k] for k in ("train_on", "crop", "split", "input_size")} == {
        "train_on": "both", "crop": "hand", "split": "photos-v1", "input_size": 56}

    def coverage():
        status = client.get("/api/data").get_json()["photos"]
        return None if status["boxes_pending"] else status

    status = wait_for(coverage, 30, "the hand-box coverage")
    assert status["ok"] and status["path"] == str(folder)
    assert (status["photos"], status["sources"], status["boxes"]) == (4, 2, 4)
    assert status["boxes_ready"] is True
    remembered = {key[0] for key in files._SHA_MEMO}  # for the process (files.file_sha256)
    assert {str(photo.resolve()) for photo in photos} <= remembered
