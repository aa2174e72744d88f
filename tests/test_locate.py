"""webapp/train/locate.py and `signlive locate`: the hand-box cache, the locator's bookkeeping and
its little photo server, and (browser-marked) MediaPipe Hands on real photos in Chromium."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from webapp import cli, config
from webapp.files import file_sha256
from webapp.model.spec import ModelSpec
from webapp.train import locate, photofolder
from webapp.train.locate import DETECTOR, BoxCache

A, B, C = "a" * 64, "b" * 64, "c" * 64


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------ BoxCache


def test_box_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "boxes.json"
    cache = BoxCache(path, {A: (1, 2, 30, 40), B: None})
    cache.save()
    assert json.loads(path.read_text()) == {"detector": DETECTOR,
                                            "boxes": {A: [1, 2, 30, 40], B: None},
                                            "hands": {}}
    again = BoxCache.load(path)
    assert again.path == path and again.boxes == {A: (1, 2, 30, 40), B: None}
    assert A in again and B in again and C not in again
    assert again.get(A) == (1, 2, 30, 40) and again.get(B) is None and again.get(C) is None
    assert BoxCache.load(tmp_path / "missing.json").boxes == {}


def test_box_cache_default_path_follows_signlive_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path))
    assert locate.default_cache_path() == tmp_path / "hand-boxes-v2.json"
    BoxCache(locate.default_cache_path(), {A: (0, 0, 1, 1)}).save()
    assert BoxCache.load().boxes == {A: (0, 0, 1, 1)}
    monkeypatch.setenv("SIGNLIVE_CACHE", "off")
    off = BoxCache.load()
    assert off.path is None and off.boxes == {}
    off.boxes[A] = None
    off.save()  # nowhere to save: a no-op, not an error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hand-boxes-v2.json"]


@pytest.mark.parametrize("content", [
    "{not json", "", "[1, 2]", "null", '"text"',
    json.dumps({"boxes": {A: [1, 2, 3, 4]}}),  # no detector
    json.dumps({"detector": "mediapipe-hands-0.4.1646424915 full", "boxes": {A: [1, 2, 3, 4]}}),
    json.dumps({"detector": DETECTOR.replace(" full,", " lite,"), "boxes": {A: [1, 2, 3, 4]}}),
    json.dumps({"detector": DETECTOR, "boxes": [[1, 2, 3, 4]]}),
    json.dumps({"detector": DETECTOR, "boxes": "none"}),
    json.dumps({"detector": DETECTOR}),
], ids=["truncated", "empty", "list", "null", "string", "no-detector", "foreign-detector",
        "other-landmark-model", "boxes-list", "boxes-string", "no-boxes"])
def test_a_corrupt_or_foreign_cache_is_ignored(tmp_path: Path, content: str) -> None:
    path = tmp_path / "boxes.json"
    path.write_text(content)
    cache = BoxCache.load(path)
    assert cache.boxes == {} and cache.path == path
    cache.boxes[A] = (5, 6, 7, 8)
    cache.save()  # a fresh, good cache replaces it
    assert BoxCache.load(path).boxes == {A: (5, 6, 7, 8)}


def test_the_cache_key_names_the_page_locators_settings() -> None:
    """The cache is keyed by DETECTOR: it must change whenever the page's locator does, or
    boxes from other settings would be read as this locator's."""
    script = (locate.STATIC_DIR / "js" / "hand-locator.js").read_text()
    assert f'HANDS_VERSION = "{locate.HANDS_VERSION}"' in script
    complexity = {"0": "lite", "1": "full"}[
        script.split("modelComplexity: ", 1)[1].split(",", 1)[0]]
    assert f" {complexity}, one hand, detection 0.5," in DETECTOR
    assert f"RETRY_PADDING = {locate.RETRY_PADDING};" in script
    assert DETECTOR.endswith(f", padded retry {locate.RETRY_PADDING}")
    assert "maxNumHands: 1," in script and "minDetectionConfidence: 0.5," in script
    model = locate.STATIC_DIR / "vendor" / f"mediapipe-hands-{locate.HANDS_VERSION}" / (
        f"hand_landmark_{complexity}.tflite")
    assert model.is_file()


def test_malformed_entries_are_dropped_and_good_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"detector": DETECTOR, "boxes": {
        A: [1, 2, 3, 4], B: None, C: [1, 2, 3], "d": [1.5, 2, 3, 4], "e": "1,2,3,4",
        "f": {"x": 1}, "g": [1, 2, 3, "4"],
    }}))
    assert BoxCache.load(path).boxes == {A: (1, 2, 3, 4), B: None}


def test_save_is_atomic(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "boxes.json"
    BoxCache(path, {A: (1, 1, 1, 1)}).save()
    before = path.read_bytes()
    real_dump = json.dump

    def dump_then_fail(obj, handle, **kwargs):
        handle.write('{"detector": ')  # a half-written file...
        raise OSError(28, "No space left on device")  # ...when the disk fills up

    monkeypatch.setattr(locate.json, "dump", dump_then_fail)
    with pytest.raises(OSError, match="No space left"):
        BoxCache(path, {A: (1, 1, 1, 1), B: (2, 2, 2, 2)}).save()
    assert path.read_bytes() == before  # the old cache, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.json"]  # no temp left behind
    monkeypatch.setattr(locate.json, "dump", real_dump)
    BoxCache(path, {B: (2, 2, 2, 2)}).save()  # over an existing file
    assert BoxCache.load(path).boxes == {B: (2, 2, 2, 2)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.json"]


# -------------------------------------------------------- locate_photos without a browser


@pytest.fixture()
def small_folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for rel, value in (("A/one_1.png", 10), ("A/copy_1.png", 10), ("B/two_1.png", 20),
                       ("C/three_1.png", 30)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), np.full((12, 16), value, np.uint8))
    return root


def test_locate_photos_bookkeeping(small_folder: Path, tmp_path: Path, monkeypatch) -> None:
    """Every photo not yet cached goes to the page; answers land in the cache by the digest
    of the photo's bytes; unreadable photos and page errors are reported, not cached."""
    calls: list[list[str]] = []
    answers = {"A/one_1.png": {"box": [1, 2, 3, 4]}, "A/copy_1.png": {"box": [1, 2, 3, 4]},
               "B/two_1.png": {"box": None},
               "C/three_1.png": {"error": "cannot decode: boom"}}

    async def fake_pages(base, rels, jobs, on_batch):
        assert base.startswith("http://127.0.0.1:") and jobs == 3
        calls.append(list(rels))
        on_batch(list(rels), [answers[rel] for rel in rels])

    monkeypatch.setattr(locate, "_run_pages", fake_pages)
    cache = BoxCache(tmp_path / "boxes.json")
    cached_before = file_sha256(small_folder / "C/three_1.png")
    files = sorted(small_folder.glob("*/*.png")) + [small_folder / "A" / "gone_1.png"]
    progress: list[tuple[int, int]] = []
    report = locate.locate_photos(small_folder, files, cache, jobs=3,
                                  progress=lambda done, total: progress.append((done, total)))
    assert calls == [["A/copy_1.png", "A/one_1.png", "B/two_1.png", "C/three_1.png"]]
    assert (report.photos, report.cached, report.located, report.with_hand) == (5, 0, 3, 2)
    assert len(report.errors) == 2 and "gone_1.png: cannot read" in report.errors[0]
    assert report.errors[1].endswith("three_1.png: cannot decode: boom")
    assert progress == [(4, 4)]
    assert cache.get(file_sha256(small_folder / "A/one_1.png")) == (1, 2, 3, 4)
    assert isinstance(cache.get(file_sha256(small_folder / "A/one_1.png")), tuple)
    assert file_sha256(small_folder / "B/two_1.png") in cache
    assert cache.get(file_sha256(small_folder / "B/two_1.png")) is None
    assert cached_before not in cache  # a failed photo is not cached, so it is tried again
    assert BoxCache.load(cache.path).boxes == cache.boxes  # saved after the batch

    calls.clear()
    again = locate.locate_photos(small_folder, sorted(small_folder.glob("*/*.png")), cache, 3)
    assert calls == [["C/three_1.png"]]
    assert (again.photos, again.cached, again.located) == (4, 3, 0)


def test_the_photo_server_serves_only_its_two_folders(small_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not for the page")
    server, base = locate.serve_photos(small_folder)
    try:
        host, port = base.removeprefix("http://").split(":")

        def get(path: str) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()

        status, body = get("/photos/B/two_1.png")
        assert status == 200 and body == (small_folder / "B" / "two_1.png").read_bytes()
        status, body = get("/static/locate.html")
        assert status == 200 and b"locate-photos.js" in body
        status, _ = get("/static/js/hand-locator.js")
        assert status == 200
        for escape in ("/photos/../secret.txt", "/photos/%2e%2e/secret.txt",
                       "/photos/..%2fsecret.txt", "/secret.txt", "/static/../webapp/cli.py"):
            status, body = get(escape)
            assert status == 404 and b"not for the page" not in body, escape
    finally:
        server.shutdown()
        server.server_close()


def test_cli_locate_errors_are_one_line(small_folder: Path, tmp_path: Path, capsys,
                                        monkeypatch) -> None:
    code, out, err = run_cli(capsys, "locate", tmp_path / "missing")
    assert code == 2 and "photo folder not found" in err and "Traceback" not in err
    (tmp_path / "empty" / "A").mkdir(parents=True)
    code, out, err = run_cli(capsys, "locate", tmp_path / "empty")
    assert code == 2 and "no <LETTER>/<image> photos found" in err
    monkeypatch.setattr(locate, "CHROMIUM", str(tmp_path / "no-chromium"))
    code, out, err = run_cli(capsys, "locate", small_folder, "--cache", tmp_path / "c.json")
    assert code == 1 and out == ""
    assert err.strip() == (f"signlive locate: error: Chromium not found at "
                           f"{tmp_path / 'no-chromium'} (set SIGNLIVE_CHROMIUM)")


# ------------------------------------------------------------ the real locator in Chromium


REAL_HANDS = ("B/kynmiiso_1.jpg", "A/mariia00_1.jpg", "V/vedantborse_1.jpg")  # raw webcam
CLOSE_UP = "U/jbhumika_20.jpg"  # the hand fills the photo: found by the padded second look


@pytest.mark.browser
def test_signlive_locate_on_real_photos(tmp_path: Path, capsys) -> None:
    pytest.importorskip("playwright.async_api")
    if not Path(locate.CHROMIUM).exists():
        pytest.skip(f"{locate.CHROMIUM} is missing: `make browser-deps` installs it")
    shared = config.photos_dir()
    if not all((shared / rel).is_file() for rel in (*REAL_HANDS, CLOSE_UP)):
        pytest.skip(f"the photos {', '.join((*REAL_HANDS, CLOSE_UP))} are not in {shared}")
    folder = tmp_path / "photos"
    for rel in (*REAL_HANDS, CLOSE_UP):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / rel, folder / rel)
    (folder / "C").mkdir()
    blank = np.tile(np.linspace(90, 160, 224, dtype=np.uint8), (168, 1))  # a plain wall
    cv2.imwrite(str(folder / "C" / "wall_1.png"), cv2.cvtColor(blank, cv2.COLOR_GRAY2BGR))
    cache_file = tmp_path / "boxes.json"

    code, out, err = run_cli(capsys, "locate", folder, "--cache", cache_file, "--jobs", "1")
    assert code == 0, err
    assert out.strip() == (f"5 photos: 0 already located, 5 located now (4 with a hand), "
                           f"0 unreadable; cache {cache_file}"), out
    cache = BoxCache.load(cache_file)
    assert len(cache.boxes) == 5
    for rel in REAL_HANDS:
        height, width = cv2.imread(str(folder / rel)).shape[:2]
        box = cache.get(file_sha256(folder / rel))
        assert box is not None, f"no hand found in {rel}"
        x, y, w, h = box
        assert 0 <= x and 0 <= y and w > 0 and h > 0, (rel, box)
        assert x + w <= width and y + h <= height, (rel, box, width, height)
        assert w * h < 0.5 * width * height, (rel, box)  # a hand, not the whole picture
        hand = cache.hand(file_sha256(folder / rel))  # its 21 landmarks came with the box
        assert hand is not None and len(hand.landmarks) == 21 and hand.handedness in (
            "Left", "Right"), (rel, hand)
        xs = [p[0] for p in hand.landmarks]
        ys = [p[1] for p in hand.landmarks]
        assert x - 1 <= min(xs) and max(xs) <= x + w + 1, (rel, box, xs)
        assert y - 1 <= min(ys) and max(ys) <= y + h + 1, (rel, box, ys)
        assert hand.features()[0] == 1.0
    # The close-up (one look found no hand in it when this test was written; the padded second
    # look does): its box and landmarks in the photo's own pixels.
    height, width = cv2.imread(str(folder / CLOSE_UP)).shape[:2]
    close = cache.get(file_sha256(folder / CLOSE_UP))
    assert close is not None, "the padded second look found no hand in the close-up"
    x, y, w, h = close
    assert 0 <= x and 0 <= y and x + w <= width and y + h <= height, (close, width, height)
    assert w * h > 0.3 * width * height, close  # the hand fills much of the photo
    hand = cache.hand(file_sha256(folder / CLOSE_UP))
    assert hand is not None and hand.features()[0] == 1.0
    xs = [p[0] for p in hand.landmarks]
    assert x - 1 <= min(xs) and max(xs) <= x + w + 1, (close, xs)
    wall = file_sha256(folder / "C" / "wall_1.png")
    assert wall in cache and cache.get(wall) is None and cache.hand(wall) is None

    # Everything is cached now: no browser at all the second time.
    code, out, _ = run_cli(capsys, "locate", folder, "--cache", cache_file)
    assert code == 0
    assert out.startswith("5 photos: 5 already located, 0 located now (0 with a hand)")
    # ...and the boxes drive the hand crop (the wall falls back to the guide square).
    ds = photofolder.load_photo_folder(folder, spec=ModelSpec(28, "hand"), boxes=cache)
    assert len(ds) == 5 and "hand found in 4" in ds.description

    # A photo reads the same whatever the locator saw before it (MediaPipe would otherwise
    # carry the last photo's hand over): other photos first, in another order, same result.
    again = tmp_path / "again"
    (again / "A").mkdir(parents=True)
    for i, rel in enumerate(reversed(REAL_HANDS)):
        (again / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rel, again / rel)
        shutil.copyfile(folder / REAL_HANDS[i], again / "A" / f"aa{i}_1.jpg")  # read first
    second = tmp_path / "again.json"
    code, _, err = run_cli(capsys, "locate", again, "--cache", second, "--jobs", "1")
    assert code == 0, err
    redone = BoxCache.load(second)
    for rel in REAL_HANDS:
        digest = file_sha256(folder / rel)
        assert redone.get(digest) == cache.get(digest), rel
        assert redone.hand(digest) == cache.hand(digest), rel
