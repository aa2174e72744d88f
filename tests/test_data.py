"""webapp/signmnist.py: the real Sign MNIST files, every validation error, splits, photo folders."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagekit import make_photos

from webapp.files import DataError, file_sha256
from webapp.model.letters import CLASS_LETTERS, NUM_CLASSES
from webapp.model.preprocess import preprocess
from webapp.model.spec import ModelSpec
from webapp.train import negatives, photofolder, signmnist, trainingsets
from webapp.train.dataset import class_counts

HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
# From ../shared/data/README.md: per-class counts and the sha256 of the stored train file.
TRAIN_COUNTS = {"A": 1126, "E": 957, "R": 1294, "Y": 1118}
TEST_COUNTS = {"A": 331, "E": 498, "R": 144, "Y": 332}
TRAIN_SHA256 = "ed123c93923b43b64351a4c6f1cb6694a0a780565971e35ad7c1e6329876ff60"


# ------------------------------------------------------------------------------- real files


@pytest.fixture(scope="module")
def train(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return signmnist.load_csv(signmnist.split_path(data_dir, "train"))


@pytest.fixture(scope="module")
def test_split(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return signmnist.load_csv(signmnist.split_path(data_dir, "test"))


def test_real_train_file(train) -> None:
    x, y = train
    assert x.shape == (27455, 28, 28) and x.dtype == np.uint8
    assert y.shape == (27455,) and y.dtype == np.int32
    assert set(np.unique(y).tolist()) == set(range(NUM_CLASSES))
    counts = class_counts(y)
    assert {k: counts[k] for k in TRAIN_COUNTS} == TRAIN_COUNTS
    assert x.min() == 0 and x.max() == 255
    assert 100 < x.mean() < 200  # hand photos, not noise or zeros


def test_real_test_file(test_split) -> None:
    x, y = test_split
    assert x.shape == (7172, 28, 28)
    counts = class_counts(y)
    assert {k: counts[k] for k in TEST_COUNTS} == TEST_COUNTS
    assert len(counts) == 24 and min(counts.values()) > 100


def test_real_split_as_dataset(data_dir: Path, test_split) -> None:
    ds = signmnist.load_split(data_dir, "test", limit=50)
    assert ds.x.shape == (50, 28, 28, 1) and ds.x.dtype == np.float32
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    np.testing.assert_array_equal(np.rint(ds.x[..., 0] * 255).astype(np.uint8), test_split[0][:50])
    np.testing.assert_array_equal(ds.y, test_split[1][:50])
    assert ds.paths is None and ds.sources is None and len(ds.sha256) == 64
    big = signmnist.load_split(data_dir, "test", size=48, limit=10)
    assert big.x.shape == (10, 48, 48, 1)
    # The same resize a live frame gets (linear when enlarging).
    expected = cv2.resize(test_split[0][3], (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(big.x[3, :, :, 0], expected / 255.0, atol=1e-6)
    small = signmnist.load_split(data_dir, "test", size=14, limit=3)
    expected = cv2.resize(test_split[0][2], (14, 14), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(small.x[2, :, :, 0], expected / 255.0, atol=1e-6)


def test_sha256_and_summary(data_dir: Path, tmp_path: Path) -> None:
    assert file_sha256(signmnist.split_path(data_dir, "train")) == TRAIN_SHA256
    info = signmnist.summary(data_dir)
    assert info["ok"] and (info["train_rows"], info["test_rows"]) == (27455, 7172)
    missing = signmnist.summary(tmp_path / "nowhere")
    assert not missing["ok"] and "nowhere" in missing["message"]
    (tmp_path / "sign_mnist_train.csv").write_text(HEADER + "\n" + _row(0) + "\n")
    half = signmnist.summary(tmp_path)
    assert not half["ok"] and "sign_mnist_test" in half["message"]


# ---------------------------------------------------------------------------- validation


def _row(label: int, fill: int = 7) -> str:
    return ",".join([str(label)] + [str(fill)] * 784)


def _rows(n: int = 5) -> list[str]:
    return [_row(label) for label in (0, 1, 2, 24, 10, 3, 4)[:n]]


def _write(folder: Path, text: str | bytes, gz: bool, name: str = "sign_mnist_test") -> Path:
    raw = text.encode() if isinstance(text, str) else text
    path = folder / (name + (".csv.gz" if gz else ".csv"))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _with(rows: list[str], line: int, column: int, value: str) -> list[str]:
    """rows with file line `line` (header = line 1), 1-based `column`, set to `value`."""
    rows = list(rows)
    cells = rows[line - 2].split(",")
    cells[column - 1] = value
    rows[line - 2] = ",".join(cells)
    return rows


BAD_CSVS = {
    "empty": ("", "line 1: file is empty"),
    "only whitespace": ("\n\n", "line 1: file is empty"),
    "header only": (HEADER + "\n", "line 2: no data rows"),
    "no header": ("\n".join(_rows()), "line 1: no header"),
    "wrong header name": (HEADER.replace("pixel5,", "pixelX,") + "\n" + "\n".join(_rows()),
                          "line 1: header column 6 is 'pixelX', expected 'pixel5'"),
    "short header": (HEADER.rsplit(",", 1)[0] + "\n" + "\n".join(_rows()),
                     "line 1: header has 784 columns, expected 785"),
    "short row": (HEADER + "\n" + "\n".join(_rows()[:2] + [_row(3).rsplit(",", 1)[0]]),
                  "line 4: has 784 columns, expected 785"),
    "long row": (HEADER + "\n" + "\n".join(_rows()[:3] + [_row(3) + ",1"] + _rows()[3:]),
                 "line 5: has 786 columns, expected 785"),
    "all rows short": (HEADER + "\n" + "\n".join(r.rsplit(",", 1)[0] for r in _rows()),
                       "line 2: has 784 columns, expected 785"),
    "word": (HEADER + "\n" + "\n".join(_with(_rows(), 3, 10, "x")),
             "line 3: column 10: 'x' is not an integer"),
    "float": (HEADER + "\n" + "\n".join(_with(_rows(), 6, 300, "1.5")),
              "line 6: column 300: '1.5' is not an integer"),
    "empty cell": (HEADER + "\n" + "\n".join(_with(_rows(), 4, 2, "")),
                   "line 4: column 2: '' is not an integer"),
    "label 9": (HEADER + "\n" + "\n".join(_with(_rows(), 5, 1, "9")),
                "line 5: label 9 is not a static letter"),
    "label 25": (HEADER + "\n" + "\n".join(_with(_rows(), 2, 1, "25")),
                 "line 2: label 25 is not a static letter"),
    "label -1": (HEADER + "\n" + "\n".join(_with(_rows(), 3, 1, "-1")),
                 "line 3: label -1 is not a static letter"),
    "pixel 256": (HEADER + "\n" + "\n".join(_with(_rows(), 3, 101, "256")),
                  "line 3: column 101 (pixel100): value 256 is outside 0-255"),
    "pixel -3": (HEADER + "\n" + "\n".join(_with(_rows(), 6, 785, "-3")),
                 "line 6: column 785 (pixel784): value -3 is outside 0-255"),
    "pixel huge": (HEADER + "\n" + "\n".join(_with(_rows(), 4, 2, "99999999999")),
                   "line 4: column 2 (pixel1): value 99999999999 is outside 0-255"),
    "range error before a parse error": (
        HEADER + "\n" + "\n".join(_with(_with(_rows(), 3, 50, "300"), 5, 9, "abc")),
        "line 3: column 50 (pixel49): value 300 is outside 0-255"),
    "parse error before a range error": (
        HEADER + "\n" + "\n".join(_with(_with(_rows(), 5, 50, "300"), 3, 9, "abc")),
        "line 3: column 9: 'abc' is not an integer"),
    "blank line": (HEADER + "\n" + "\n".join(_rows()[:2] + [""] + _rows()[2:]),
                   "line 4: empty line"),
    "binary junk": (bytes(range(256)) * 40, "line 1:"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "gz"])
@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_bad_csv_names_file_and_line(tmp_path: Path, case: str, gz: bool) -> None:
    text, expected = BAD_CSVS[case]
    path = _write(tmp_path, text, gz)
    with pytest.raises(DataError) as caught:
        signmnist.load_csv(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing.csv: file not found"):
        signmnist.load_csv(tmp_path / "nothing.csv")
    with pytest.raises(DataError, match="not a file"):
        signmnist.load_csv(tmp_path)
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress((HEADER + "\n" + _row(1)).encode())[:100])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: not a valid gzip file"):
        signmnist.load_csv(truncated)
    with pytest.raises(DataError, match="data folder not found"):
        signmnist.split_path(tmp_path / "absent", "train")
    with pytest.raises(DataError, match="no sign_mnist_train.csv or sign_mnist_train.csv.gz"):
        signmnist.split_path(tmp_path, "train")
    with pytest.raises(DataError, match="split must be one of"):
        signmnist.split_path(tmp_path, "validation")


def test_good_csv_variants(tmp_path: Path) -> None:
    """CRLF line ends, no final newline and trailing blank lines all load the same rows."""
    rows = _rows(7)
    variants = {
        "plain": HEADER + "\n" + "\n".join(rows) + "\n",
        "crlf": HEADER + "\r\n" + "\r\n".join(rows) + "\r\n",
        "no final newline": HEADER + "\n" + "\n".join(rows),
        "trailing blank lines": HEADER + "\n" + "\n".join(rows) + "\n\n\n",
    }
    for index, text in enumerate(variants.values()):
        x, y = signmnist.load_csv(_write(tmp_path, text, gz=index % 2 == 1, name=f"v{index}"))
        assert x.shape == (7, 28, 28) and (x == 7).all()
        assert [CLASS_LETTERS[i] for i in y] == ["A", "B", "C", "Y", "K", "D", "E"]
    one = signmnist.load_csv(_write(tmp_path, HEADER + "\n" + _row(5), gz=False, name="one"))
    assert one[0].shape == (1, 28, 28) and one[1].tolist() == [5]


def test_parsed_copy_is_cached_by_content(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SIGNLIVE_CACHE", str(cache))
    path = _write(tmp_path, HEADER + "\n" + "\n".join(_rows()), gz=True)
    x, y = signmnist.load_csv(path)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    real_parse = signmnist._parse_csv
    monkeypatch.setattr(signmnist, "_parse_csv", None)  # a second load must not parse at all
    again = signmnist.load_csv(path)
    np.testing.assert_array_equal(again[0], x)
    np.testing.assert_array_equal(again[1], y)
    monkeypatch.setattr(signmnist, "_parse_csv", real_parse)
    # New content -> a new key, never the stale copy.
    _write(tmp_path, HEADER + "\n" + "\n".join(_rows(2)), gz=True)
    assert signmnist.load_csv(path)[0].shape == (2, 28, 28)
    # A damaged cache file is ignored and rewritten.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for file in cache.glob("*.npz"):
        file.write_bytes(b"garbage")
    assert signmnist.load_csv(path)[0].shape == (2, 28, 28)
    (rewritten,) = cache.glob(f"*{digest}*.npz")
    with np.load(rewritten) as saved:
        assert saved["x"].shape == (2, 28, 28)
    # Bad files are never cached; the cache can be switched off.
    monkeypatch.setenv("SIGNLIVE_CACHE", "off")
    off = _write(tmp_path, HEADER + "\n" + _row(6), gz=False, name="off")
    before = sorted(cache.iterdir())
    signmnist.load_csv(off)
    assert sorted(cache.iterdir()) == before


# ------------------------------------------------------------------------------ splitting


def test_stratified_split() -> None:
    y = np.repeat(np.arange(24, dtype=np.int32), np.arange(10, 34))
    x = np.arange(len(y))
    x_tr, y_tr, x_val, y_val = trainingsets.stratified_split(x, y, 0.2, seed=3)
    assert len(x_tr) + len(x_val) == len(y)
    assert set(x_tr.tolist()).isdisjoint(x_val.tolist())
    assert sorted(np.concatenate([x_tr, x_val]).tolist()) == x.tolist()
    np.testing.assert_array_equal(y[x_tr], y_tr)
    np.testing.assert_array_equal(y[x_val], y_val)
    for cls in range(24):  # every class held out in proportion
        assert np.sum(y_val == cls) == round(np.sum(y == cls) * 0.2)
    assert (np.diff(x_val) > 0).all()  # original order kept
    same = trainingsets.stratified_split(x, y, 0.2, seed=3)
    np.testing.assert_array_equal(same[2], x_val)
    other = trainingsets.stratified_split(x, y, 0.2, seed=4)
    assert not np.array_equal(other[2], x_val)
    none = trainingsets.stratified_split(x, y, 0.0, seed=0)
    assert len(none[2]) == 0 and len(none[0]) == len(y)
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(ValueError, match="val_fraction"):
            trainingsets.stratified_split(x, y, bad, seed=0)


def test_to_tf_dataset() -> None:
    x = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)
    y = np.arange(100, dtype=np.int32) % 24
    batches = list(trainingsets.to_tf_dataset(x, y, 32, shuffle=False, seed=0))
    assert [len(b[1]) for b in batches] == [32, 32, 32, 4]
    assert np.concatenate([b[0].numpy() for b in batches]).ravel().tolist() == list(range(100))
    shuffled = np.concatenate([b[0].numpy() for b in trainingsets.to_tf_dataset(x, y, 10, True, 1)])
    assert sorted(shuffled.ravel().tolist()) == list(range(100))
    assert shuffled.ravel().tolist() != list(range(100))
    with pytest.raises(ValueError, match="batch_size"):
        trainingsets.to_tf_dataset(x, y, 0, shuffle=False)


# ----------------------------------------------------------------------------- photo folders


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    """A <LETTER>/ folder with mixed sizes, colour/gray, JPEG/PNG, 16-bit, and broken files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for letter in ("A", "B", "C", "J"):
        (root / letter).mkdir(parents=True)
    (root / "README.md").write_text("about these photos")
    (root / "manifest.csv").write_text("file,letter\n")
    color = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "A" / "cam_one_1.jpg"), color)
    cv2.imwrite(str(root / "A" / "cam_one_2.png"), rng.integers(0, 256, (60, 100), np.uint8))
    cv2.imwrite(str(root / "B" / "phone_1.JPEG"), rng.integers(0, 256, (1000, 750, 3), np.uint8))
    cv2.imwrite(str(root / "B" / "phone_2.png"), rng.integers(0, 65535, (40, 40), np.uint16))
    cv2.imwrite(str(root / "C" / "studio_7.png"), rng.integers(0, 256, (33, 33, 4), np.uint8))
    (root / "C" / "studio_8.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "C" / "notes.txt").write_text("hello")
    (root / "C" / ".DS_Store").write_bytes(b"\0")
    cv2.imwrite(str(root / "J" / "x_1.png"), color)
    return root


def test_photo_folder(photos: Path) -> None:
    ds = photofolder.load_photo_folder(photos, spec=ModelSpec(28, crop_fraction=0.5))
    names = [Path(p).name for p in ds.paths]
    assert names == ["cam_one_1.jpg", "cam_one_2.png", "phone_1.JPEG", "phone_2.png",
                     "studio_7.png"]
    assert [CLASS_LETTERS[i] for i in ds.y] == ["A", "A", "B", "B", "C"]
    assert ds.sources == ["cam_one", "cam_one", "phone", "phone", "studio"]
    assert ds.x.shape == (5, 28, 28, 1) and ds.x.dtype == np.float32
    for image, path in zip(ds.x, ds.paths, strict=True):  # exactly the live path
        np.testing.assert_array_equal(image, preprocess(Path(path).read_bytes(), 0.5, 28))
    reasons = "\n".join(ds.skipped)
    assert len(ds.skipped) == 3, reasons
    assert "studio_8.jpg: " in reasons and "notes.txt: not a .jpg" in reasons
    assert "J: not a letter folder" in reasons
    assert "5 photos, 3 skipped" in ds.description
    # limit N reads N files spread over the sorted list (broken ones among them are skipped).
    big = photofolder.load_photo_folder(photos, spec=ModelSpec(64, crop_fraction=1.0), limit=3)
    assert big.x.shape == (2, 64, 64, 1)
    assert [Path(p).name for p in big.paths] == ["cam_one_1.jpg", "phone_1.JPEG"]
    assert any("studio_8.jpg" in item for item in big.skipped)
    assert big.sha256 != ds.sha256


def test_load_dataset_dispatch(photos: Path, tmp_path: Path) -> None:
    assert trainingsets.load_dataset(photos, spec=ModelSpec(28, crop_fraction=0.9)).paths
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    _write(csv_dir, HEADER + "\n" + "\n".join(_rows()), gz=True, name="sign_mnist_test")
    from_dir = trainingsets.load_dataset(csv_dir, "test", limit=3)
    assert from_dir.x.shape == (3, 28, 28, 1) and from_dir.paths is None
    from_file = trainingsets.load_dataset(csv_dir / "sign_mnist_test.csv.gz", spec=ModelSpec(32))
    assert from_file.x.shape == (5, 32, 32, 1)
    with pytest.raises(DataError, match="no sign_mnist_train"):
        trainingsets.load_dataset(csv_dir, "train")
    with pytest.raises(DataError, match="data folder not found"):
        trainingsets.load_dataset(tmp_path / "missing")


def test_photo_folder_without_usable_images(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no usable images"):
        photofolder.load_photo_folder(tmp_path, spec=ModelSpec(28))
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "bad_1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match=r"no usable images.*bad_1\.png"):
        photofolder.load_photo_folder(tmp_path, spec=ModelSpec(28))
    with pytest.raises(DataError, match="photo folder not found"):
        photofolder.load_photo_folder(tmp_path / "nope", spec=ModelSpec(28))


def test_photo_source() -> None:
    assert photofolder.photo_source("A/hackmit_12.jpg") == "hackmit"
    assert photofolder.photo_source("Y/roboflow_asl_letters_3.jpg") == "roboflow_asl_letters"
    assert photofolder.photo_source("B/IMG1234.png") == ""


def test_hold_out_sources_takes_whole_sources_reproducibly() -> None:
    sources = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 10
    mask = trainingsets.hold_out_sources(sources, 0.2, seed=1)
    held = {s for s, m in zip(sources, mask, strict=True) if m}
    assert held and all(mask[i] for i, s in enumerate(sources) if s in held)  # whole sources
    assert mask.mean() >= 0.2 and mask.mean() < 1.0  # never everything
    np.testing.assert_array_equal(mask, trainingsets.hold_out_sources(sources, 0.2, seed=1))
    with pytest.raises(DataError, match="at least two sources"):
        trainingsets.hold_out_sources(["a", "a"], 0.2, seed=0)


def test_training_data_from_a_photo_folder_holds_out_whole_sources(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, ["cam", "phone", "studio", "web", "kit"])
    sets = trainingsets.load_training_data(root, spec=ModelSpec(28, crop_fraction=1.0),
                                   val_fraction=0.2, seed=0)
    test_sources = set(sets.test.sources)
    assert test_sources and "held-out test, sources" in sets.test.description
    assert len(sets.test) + len(sets.x_train) + len(sets.x_val) == 30
    # No training or validation photo comes from a test source.
    assert len(sets.test) == 6 * len(test_sources)
    assert sets.x_train.shape[1:] == (28, 28, 1) and len(sets.x_val) > 0
    assert len(sets.sha256) == 64


def test_training_data_from_a_single_source_folder_holds_out_files(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, ["cam"], per_letter=10)
    sets = trainingsets.load_training_data(root, spec=ModelSpec(28, crop_fraction=1.0),
                                           val_fraction=0.0)
    assert "stratified sample of files" in sets.test.description
    assert sorted(np.bincount(sets.test.y).tolist()) == [2, 2, 2]  # 20% of every letter
    assert len(sets.x_train) == 24 and len(sets.x_val) == 0


def test_training_data_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data folder not found"):
        trainingsets.load_training_data(tmp_path / "missing")
    with pytest.raises(DataError, match="neither sign_mnist_train.csv"):
        trainingsets.load_training_data(tmp_path)
    root = tmp_path / "one"
    make_photos(root, ["cam"], per_letter=1)
    with pytest.raises(DataError, match="too few photos to hold out a test set"):
        trainingsets.load_training_data(root)


def test_hand_free_images_are_varied_model_inputs_and_reproducible() -> None:
    x = negatives.hand_free_images(200, size=28, seed=5)
    assert x.shape == (200, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    spread = x.std(axis=(1, 2, 3))
    assert (spread < 0.01).any() and (spread > 0.2).any()  # plain walls and strong patterns
    assert len(np.unique(x.mean(axis=(1, 2, 3)).round(3))) > 150  # not a few repeats
    np.testing.assert_array_equal(x, negatives.hand_free_images(200, size=28, seed=5))
    assert negatives.hand_free_images(3, size=64, seed=1).shape == (3, 64, 64, 1)
    assert negatives.hand_free_images(0).shape == (0, 28, 28, 1)
    with pytest.raises(ValueError, match="count"):
        negatives.hand_free_images(-1)
