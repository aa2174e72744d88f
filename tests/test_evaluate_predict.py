"""webapp/train/evaluation.py and `signlive evaluate / predict`, on a model whose answers are known.

The "lit pixel" model: Flatten -> Dense(24, softmax) with weight 10 from pixel k (top row,
column k) to class k. An image whose only bright pixel is (0, k) is read as letter k with
confidence e^10 / (e^10 + 23), so every metric below can be checked by hand.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from webapp import cli
from webapp.files import file_sha256
from webapp.model.letters import CLASS_LETTERS, NUM_CLASSES, letter_to_class
from webapp.train import evaluation, signmnist
from webapp.train.dataset import Dataset

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "default.keras"
CONFIDENCE = math.exp(10) / (math.exp(10) + 23)
HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def lit(k: int, size: int = 28) -> np.ndarray:
    """A uint8 image read as class k by the lit-pixel model."""
    image = np.zeros((size, size), np.uint8)
    image[0, k] = 255
    return image


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import keras

    from webapp.model.registry import Registry

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ])
    weights = np.zeros((784, NUM_CLASSES), np.float32)
    weights[np.arange(NUM_CLASSES), np.arange(NUM_CLASSES)] = 10.0
    model.layers[-1].set_weights([weights, np.zeros(NUM_CLASSES, np.float32)])
    folder = tmp_path_factory.mktemp("models")
    metadata = {"arch": "tiny", "letters": list(CLASS_LETTERS), "input_size": 28,
                "crop_fraction": 1.0, "test_accuracy": None}
    return Registry(folder).save(model, "tiny", metadata)


@pytest.fixture(scope="module")
def loaded(tiny_model: Path):
    from webapp.model.registry import load_model_file

    return load_model_file(tiny_model)


def _dataset(true: str, predicted: str, sources: list[str] | None = None) -> Dataset:
    """A Dataset whose i-th image is labelled true[i] and read by the model as predicted[i]."""
    x = np.stack([lit(letter_to_class(p)) for p in predicted])[..., None] / np.float32(255)
    y = np.array([letter_to_class(t) for t in true], np.int32)
    return Dataset(x.astype(np.float32), y, None, sources, "hand-made", "0" * 64)


# ------------------------------------------------------------------------------ evaluation


def test_predict_probs(loaded) -> None:
    x = np.stack([lit(k) for k in range(NUM_CLASSES)])[..., None] / np.float32(255)
    probs = evaluation.predict_probs(loaded.model, x, batch_size=5)  # 5 batches, ragged end
    assert probs.shape == (24, 24)
    np.testing.assert_array_equal(probs.argmax(axis=1), np.arange(24))
    np.testing.assert_allclose(np.diag(probs), CONFIDENCE, rtol=1e-5)
    assert evaluation.predict_probs(loaded.model, x[:0]).shape == (0, 24)


def test_evaluate_by_hand(loaded) -> None:
    # A: 3 images read A, A, B.  B: 2 read B, B.  C: 1 read A.  Others: none.
    result = evaluation.evaluate(loaded.model, _dataset("AAABBC", "AABBBA"))
    assert result["n"] == 6 and result["accuracy"] == pytest.approx(4 / 6)
    assert result["letters"] == list(CLASS_LETTERS)
    per = result["per_class"]
    assert per["A"] == {"precision": pytest.approx(2 / 3, abs=1e-6),
                        "recall": pytest.approx(2 / 3, abs=1e-6),
                        "f1": pytest.approx(2 / 3, abs=1e-6), "support": 3}
    assert per["B"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert per["B"]["recall"] == 1.0 and per["B"]["f1"] == pytest.approx(0.8, abs=1e-6)
    assert per["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per["Y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    confusion = np.array(result["confusion"])
    assert confusion.shape == (24, 24) and confusion.sum() == 6
    assert confusion[0, 0] == 2 and confusion[0, 1] == 1 and confusion[1, 1] == 2
    assert confusion[2, 0] == 1
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert "per_source" not in result
    assert evaluation.top_confusions(result) == [
        {"true": "C", "predicted": "A", "count": 1}, {"true": "A", "predicted": "B", "count": 1}]
    json.dumps(result)  # the CLI and the dashboard serialise it as is


def test_evaluate_per_source(loaded) -> None:
    ds = _dataset("AABBY", "ABBBX", sources=["cam", "cam", "cam", "phone", "phone"])
    result = evaluation.evaluate(loaded.model, ds)
    assert result["per_source"] == {
        "cam": {"accuracy": pytest.approx(2 / 3), "n": 3, "correct": 2},
        "phone": {"accuracy": 0.5, "n": 2, "correct": 1}}


def test_by_hand_names_both_groups_even_when_one_is_empty() -> None:
    y_true, y_pred = np.array([0, 1, 2, 3]), np.array([0, 1, 1, 3])
    every = evaluation.by_hand(y_true, y_pred, np.array([True] * 4))
    assert every == {"found": {"accuracy": 0.75, "n": 4, "correct": 3},
                     "not_found": {"accuracy": 0.0, "n": 0, "correct": 0}}
    split = evaluation.by_hand(y_true, y_pred, np.array([True, False, False, True]))
    assert split == {"found": {"accuracy": 1.0, "n": 2, "correct": 2},
                     "not_found": {"accuracy": 0.5, "n": 2, "correct": 1}}


def test_evaluate_refuses_wrong_input_size(loaded) -> None:
    ds = Dataset(np.zeros((2, 32, 32, 1), np.float32), np.zeros(2, np.int32), None, None,
                      "", "")
    with pytest.raises(ValueError, match=r"shape \(32, 32, 1\); the model takes \(28, 28, 1\)"):
        evaluation.evaluate(loaded.model, ds)


def test_confusion_png(loaded, tmp_path: Path, artifacts_dir: Path) -> None:
    rng = np.random.default_rng(0)
    true = "".join(rng.choice(list(CLASS_LETTERS), 300))
    predicted = "".join(t if rng.random() < 0.8 else rng.choice(list(CLASS_LETTERS)) for t in true)
    result = evaluation.evaluate(loaded.model, _dataset(true, predicted))
    path = tmp_path / "confusion.png"
    evaluation.save_confusion_png(result, path)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 500 and image.shape[1] > 500
    shutil.copy(path, artifacts_dir / "confusion-example.png")


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture()
def csv_dir(tmp_path: Path) -> Path:
    """sign_mnist_test.csv.gz: 4 A read as A, 1 A read as B, 3 Y read as Y (7/8 correct)."""
    rows = [(0, 0)] * 4 + [(0, 1)] + [(24, 23)] * 3  # (label, class the model will read)
    lines = [HEADER] + [",".join(map(str, [label, *lit(k).ravel()])) for label, k in rows]
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "sign_mnist_test.csv.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    return folder


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_evaluate_json(tiny_model: Path, csv_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    start = time.perf_counter()
    code, stdout, stderr = run_cli(capsys, "evaluate", "--model", tiny_model, "--data", csv_dir,
                                   "--json", "--out", out)
    wall = time.perf_counter() - start
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["accuracy"] == pytest.approx(7 / 8) and result["n"] == 8
    assert result["per_class"]["A"]["recall"] == pytest.approx(0.8)
    assert result["per_class"]["Y"]["support"] == 3
    assert result["confusion"][0][1] == 1 and result["confusion"][23][23] == 3
    assert result["data_sha256"] == file_sha256(csv_dir / "sign_mnist_test.csv.gz")
    assert result["data"] == str(csv_dir)
    # The times it reports (loading the data, then scoring it and the hand-free check, which
    # reads 1,000 pictures: never 0) lie inside the command's wall time.
    assert result["seconds"] > 0 and result["load_seconds"] + result["seconds"] <= wall
    assert json.loads((out / "confusion.json").read_text())["confusion"] == result["confusion"]
    assert cv2.imread(str(out / "confusion.png")) is not None
    # The hand-free check: synthetic pictures without a hand, against the page's threshold.
    free = result["hand_free"]
    assert free["n"] == 1000 and free["threshold"] == 0.6
    assert 0 <= free["false_letters"] <= 1000 and 0.0 < free["median_confidence"] <= 1.0
    code, stdout, _ = run_cli(capsys, "evaluate", "--model", tiny_model, "--data", csv_dir,
                              "--json", "--out", out, "--threshold", "0")
    assert json.loads(stdout)["hand_free"]["false_letters"] == 1000  # every top >= 0


def test_cli_evaluate_report(tiny_model, csv_dir, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run_cli(capsys, "evaluate", "--model", tiny_model, "--data", csv_dir,
                              "--limit", "5")
    assert code == 0
    assert "accuracy  0.8000  (4 of 5 correct" in stdout
    assert "A -> B: 1" in stdout
    rows = [line.split() for line in stdout.splitlines()]
    assert ["A", "1.0000", "0.8000", "0.8889", "5"] in rows
    assert (tmp_path / "eval-tiny" / "confusion.png").is_file()  # default: ./eval-<model>/
    assert "hand-free pictures read as a letter at >= 0.60 confidence" in stdout


def test_cli_evaluate_photo_folder(tiny_model: Path, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    for letter, name, k in [("A", "cam_1.png", 0), ("A", "cam_2.png", 2), ("B", "phone_1.png", 1)]:
        (photos / letter).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(photos / letter / name), lit(k))
    (photos / "B" / "phone_2.jpg").write_bytes(b"broken")
    code, stdout, stderr = run_cli(capsys, "evaluate", "--model", tiny_model, "--data", photos,
                                   "--json", "--out", tmp_path / "o")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["n"] == 3 and result["accuracy"] == pytest.approx(2 / 3)
    assert result["per_source"] == {"cam": {"accuracy": 0.5, "n": 2, "correct": 1},
                                    "phone": {"accuracy": 1.0, "n": 1, "correct": 1}}
    assert len(result["skipped"]) == 1 and "phone_2.jpg" in result["skipped"][0]


def _write_lit_pngs(folder: Path) -> list[Path]:
    paths = []
    for k in (0, 7, 23):
        path = folder / f"img{k}.png"
        cv2.imwrite(str(path), lit(k))
        paths.append(path)
    return paths


def test_cli_predict(tiny_model: Path, tmp_path: Path, capsys) -> None:
    images = _write_lit_pngs(tmp_path)
    code, stdout, stderr = run_cli(capsys, "predict", "--model", tiny_model, *images)
    assert code == 0, stderr
    expected = [f"{p}\t{CLASS_LETTERS[k]}\t{CONFIDENCE:.4f}" for p, k in zip(images, (0, 7, 23),
                                                                             strict=True)]
    assert stdout.splitlines() == expected
    code, stdout, _ = run_cli(capsys, "predict", "--model", tiny_model, "--json", images[1])
    (line,) = stdout.splitlines()
    record = json.loads(line)
    assert record["path"] == str(images[1]) and record["letter"] == "H"
    assert record["confidence"] == round(CONFIDENCE, 4)
    assert [t[0] for t in record["top"]][0] == "H" and len(record["top"]) == 3
    # The model's crop fraction (1.0) is the default; a smaller guide square loses the top row.
    code, stdout, _ = run_cli(capsys, "predict", "--model", tiny_model, "--crop-fraction", "0.5",
                              images[1])
    assert code == 0 and stdout.split("\t")[1] == "A"  # all-zero input: every logit equal


def test_cli_predict_bad_images(tiny_model: Path, tmp_path: Path, capsys) -> None:
    good = _write_lit_pngs(tmp_path)[0]
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0u0\0\0u0\x08\0\0\0\0" + b"\0" * 20)
    code, stdout, stderr = run_cli(capsys, "predict", "--model", tiny_model, text,
                                   tmp_path / "missing.jpg", good, bomb, tmp_path)
    assert code == 1
    assert stdout.splitlines() == [f"{good}\tA\t{CONFIDENCE:.4f}"]
    errors = stderr.splitlines()
    assert len(errors) == 4 and all(e.startswith("signlive predict: error: ") for e in errors)
    assert f"{text}: data is neither a JPEG nor a PNG" in errors[0]
    assert "missing.jpg: cannot read" in errors[1]
    assert "bomb.png: image is 30000x30000 pixels" in errors[2]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--model", "{tmp}/none.keras", "--data", "{csv}"], "model file not found"),
        (["evaluate", "--model", "{tmp}/corrupt.keras", "--data", "{csv}"], "not a Keras model"),
        (["evaluate", "--model", "{model}", "--data", "{tmp}/no-data"], "data folder not found"),
        (["evaluate", "--model", "{model}", "--data", "{tmp}"], "no usable images"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--limit", "-1"], "--limit"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--crop-fraction", "7"],
         "--crop-fraction must be a number in [0.05, 1], got 7.0"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--threshold", "1.5"],
         "--threshold must be in 0-1"),
        (["predict", "--model", "{tmp}/corrupt.keras", "{tmp}/a.png"], "not a Keras model"),
        (["predict", "--model", "{tmp}/notes.txt", "{tmp}/a.png"], "must end in .keras"),
    ],
)
def test_cli_bad_input_one_line(argv, message, tiny_model, csv_dir, tmp_path, capsys) -> None:
    (tmp_path / "corrupt.keras").write_bytes(os.urandom(2000))
    (tmp_path / "notes.txt").write_text("hello")
    values = {"tmp": tmp_path, "csv": csv_dir, "model": tiny_model}
    code, stdout, stderr = run_cli(capsys, *[a.format(**values) for a in argv])
    assert code == 2 and stdout == ""
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"signlive {argv[0]}: error: ") and message in line, line


def test_console_script_entry_point(tiny_model: Path, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "signlive"
    assert script.is_file(), "the signlive console script is not installed (pip install -e .)"
    images = _write_lit_pngs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([str(script), "predict", "--model", str(tiny_model), str(images[2]),
                           str(tmp_path / "nope.png")], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 1
    assert done.stdout == f"{images[2]}\tY\t{CONFIDENCE:.4f}\n"
    # As a user runs it: the one error line, none of TensorFlow's start-up chatter.
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("signlive predict: error: "), done.stderr


def test_only_tensorflows_startup_chatter_is_dropped() -> None:
    chatter = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to "
        "STDERR\n"
        "I0000 00:00:1.2 4103 port.cc:153] oneDNN custom operations are on. You may see ...\n"
        "I0000 00:00:1.3 4103 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
        "E0000 00:00:1.4 4103 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n")
    real = "F0000 00:00:1.5 4103 cpu_allocator.cc:9] out of memory allocating 8 GiB\n"
    assert cli.without_startup_noise(chatter + real + chatter) == real


# ------------------------------------------------------------------------ the shipped model


def test_shipped_default_model_scores_99_percent_on_500_test_images(data_dir, tmp_path, capsys):
    """models/default.keras on test rows 0-499 of ../shared/data, through the real CLI."""
    if not SHIPPED.exists():
        pytest.skip("models/default.keras has not been trained and committed yet")
    code, stdout, stderr = run_cli(capsys, "evaluate", "--model", SHIPPED, "--data", data_dir,
                                   "--limit", "500", "--json", "--out", tmp_path)
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["n"] == 500 and result["accuracy"] >= 0.99
    # predict on the first test images written as files, as a user would.
    x, y = signmnist.load_csv(signmnist.split_path(data_dir, "test"))
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"test{i}.png")
        cv2.imwrite(str(paths[-1]), x[i])
    code, stdout, stderr = run_cli(capsys, "predict", "--model", SHIPPED, "--crop-fraction", "1",
                                   *paths)
    assert code == 0, stderr
    letters = [line.split("\t")[1] for line in stdout.splitlines()]
    assert sum(a == CLASS_LETTERS[b] for a, b in zip(letters, y[:20], strict=True)) >= 19
