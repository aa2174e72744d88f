"""`signlive fuse` (webapp/train/fusion.py) end to end on a tiny synthetic photo folder.

Why: fusing must follow the split (train on the training sources' landmarks, choose on the
validation sources, never read the held-out ones), keep the base model intact (a fused model
with no hand reads exactly like its base), refuse unusable runs with one clear line, and the
fused model must get the cached landmarks in `signlive evaluate` and `signlive predict`.

The folder: letters A-C, 4 photos each of 3 training sources, 1 validation source and 1
held-out source of photos-v1. The box cache is written here as `signlive locate` would (no
Chromium): a box and landmarks for every photo but each source's `_3` photos (no hand found),
landmarks shaped by letter (the `_1` photos as left hands), and nothing at all for the
held-out photos, which are not even decodable.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagekit import letter_hand, make_photos

from webapp import cli
from webapp.files import file_sha256
from webapp.model.handshape import FEATURES, FEATURES_VERSION
from webapp.model.letters import CLASS_LETTERS
from webapp.model.preprocess import DEFAULT_CROP_FRACTION
from webapp.model.registry import Registry, load_model_file
from webapp.model.spec import ModelSpec
from webapp.train import fusion, locate, photofolder, splits
from webapp.train.dataset import Dataset
from webapp.train.evaluation import metrics, predict_probs
from webapp.train.locate import BoxCache

SPLIT = splits.load("photos-v1")
TRAIN = ["riya9900", "hackmit", "jbhumika"]
VALIDATION = ["kennethowen26"]
HELD_OUT = ["massey"]
LETTERS = "ABC"
PER_LETTER = 4
BOX = (8, 6, 40, 40)
EPOCHS = 6
BASE_METADATA = {"arch": "cnn", "crop": "hand", "input_size": 28,
                 "crop_fraction": DEFAULT_CROP_FRACTION, "letters": list(CLASS_LETTERS)}


def test_the_sources_used_here_have_the_roles_assumed() -> None:
    assert [SPLIT.role(s) for s in TRAIN] == ["train"] * 3
    assert [SPLIT.role(s) for s in VALIDATION] == ["validation"]
    assert [SPLIT.role(s) for s in HELD_OUT] == ["held_out"]


@dataclass
class Lab:
    photos: Path  # the folder fuse reads (its held-out photos are garbage, never located)
    scored: Path  # the same photos without the held-out ones, for evaluate and predict
    cache: Path  # what SIGNLIVE_CACHE points at
    models: Path  # base.keras (crop "hand") and guide.keras (the same, guide crop)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    import keras

    from webapp.model import nets

    root = tmp_path_factory.mktemp("fuse")
    photos = make_photos(root / "photos", TRAIN + VALIDATION + HELD_OUT, letters=LETTERS,
                         per_letter=PER_LETTER)
    cache = BoxCache(root / "cache" / f"hand-boxes-v{locate.BOX_CACHE_VERSION}.json")
    rng = np.random.default_rng(0)
    for photo in photos:
        if photofolder.photo_source(photo) in HELD_OUT:
            photo.write_bytes(b"\xff\xd8\xff not a photo")  # decoding it would fail
            continue
        digest = file_sha256(photo)
        hand_found = not photo.stem.endswith("_3")
        cache.boxes[digest] = BOX if hand_found else None
        if hand_found:
            cache.hands[digest] = letter_hand(photo.parent.name, rng,
                                              left=photo.stem.endswith("_1"))
    cache.save()
    scored = root / "scored"
    shutil.copytree(root / "photos", scored,
                    ignore=lambda _, names: [n for n in names if n.startswith(HELD_OUT[0])])
    models = root / "models"
    keras.utils.set_random_seed(0)
    Registry(models).save(nets.build_model("cnn", 28), "base", BASE_METADATA)
    guide = {k: v for k, v in BASE_METADATA.items() if k != "crop"}
    shutil.copyfile(models / "base.keras", models / "guide.keras")
    (models / "guide.json").write_text(json.dumps({**guide, "name": "guide"}))
    return Lab(photos=root / "photos", scored=scored, cache=root / "cache", models=models)


@pytest.fixture(autouse=True)
def signlive_cache(lab: Lab, monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", str(lab.cache))


def fuse_argv(lab: Lab, *extra: str) -> list[str]:
    return ["fuse", "--base", str(lab.models / "base.keras"), "--photos", str(lab.photos),
            "--models-dir", str(lab.models), "--epochs", "1", *extra]


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@dataclass
class FuseRun:
    code: int
    out: str
    err: str
    reads: list[Path]  # every photo the run opened
    model: Path


@pytest.fixture(scope="module")
def fused(lab: Lab) -> FuseRun:
    """One `signlive fuse` run for the module, counting the photos it reads."""
    reads: list[Path] = []
    real = photofolder._load_photo

    def counting(item, *args):
        reads.append(Path(item))
        return real(item, *args)

    out, err = io.StringIO(), io.StringIO()
    argv = fuse_argv(lab, "--epochs", str(EPOCHS), "--name", "fused")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNLIVE_CACHE", str(lab.cache))
        patch.setattr(photofolder, "_load_photo", counting)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    return FuseRun(code, out.getvalue(), err.getvalue(), reads, lab.models / "fused.keras")


@pytest.fixture(scope="module")
def scored(lab: Lab) -> Dataset:
    """The scored folder as evaluate reads it for a hand-crop model (with hand shapes)."""
    cache = BoxCache.load(lab.cache / f"hand-boxes-v{locate.BOX_CACHE_VERSION}.json")
    return photofolder.load_photo_folder(lab.scored, ModelSpec(28, "hand"), boxes=cache)


# ------------------------------------------------------------------------------ the run


def test_fuse_saves_a_fused_model_with_its_provenance(fused: FuseRun, lab: Lab,
                                                     scored: Dataset) -> None:
    assert fused.code == 0, fused.err
    assert fused.out.splitlines()[0] == f"saved {fused.model}"
    assert fused.out.splitlines()[1].startswith("validation accuracy ")
    assert [line.split()[1] for line in fused.err.splitlines() if line.startswith("epoch")] \
        == [f"{i}/{EPOCHS}" for i in range(1, EPOCHS + 1)]
    meta = json.loads(fused.model.with_suffix(".json").read_text())
    assert meta["name"] == "fused" and meta["handshape"] == FEATURES_VERSION
    assert meta["arch"] == "cnn+handshape"
    assert (meta["crop"], meta["input_size"], meta["crop_fraction"]) == (
        "hand", 28, DEFAULT_CROP_FRACTION)
    base_bytes = (lab.models / "base.keras").read_bytes()
    assert meta["base_model"]["sha256"] == hashlib.sha256(base_bytes).hexdigest()
    assert meta["base_model"]["name"] == "base"
    assert meta["base_model"]["file"] == "base.keras"
    run = meta["fusion"]
    assert run["weight"] in fusion.WEIGHTS
    assert 1 <= run["best_epoch"] <= EPOCHS and meta["best_epoch"] == run["best_epoch"]
    assert len(meta["history"]) == meta["epochs"] == EPOCHS
    best = meta["history"][run["best_epoch"] - 1]
    assert (best["val_accuracy"], best["weight"]) == (run["validation_accuracy"], run["weight"])
    # The earliest epoch with the highest validation accuracy, not simply the last one.
    scores = [row["val_accuracy"] for row in meta["history"]]
    assert run["best_epoch"] == 1 + int(np.argmax(scores))
    # The saved model (that epoch's branch, times the weight) scores just that.
    validation = np.isin(scored.sources, VALIDATION)
    model = load_model_file(fused.model).model
    probs = predict_probs(model, scored.x[validation], handshape=scored.handshape[validation])
    assert float((probs.argmax(axis=1) == scored.y[validation]).mean()) == pytest.approx(
        run["validation_accuracy"])
    # Hands on 3 of every 4 photos: 3 train sources x 3 letters x 3, and 1 x 3 x 3 to validate.
    assert run["train_hands"] == 27
    assert (run["validation_n"], run["validation_with_hand"]) == (12, 9)
    assert run["split"] == "photos-v1" and run["config"]["epochs"] == EPOCHS
    # The landmarks tell the letters apart; an untrained image model cannot.
    assert run["validation_accuracy"] > run["validation_image_only"]
    assert run["validation_accuracy"] >= 0.75


def test_fuse_never_reads_the_held_out_sources(fused: FuseRun, lab: Lab) -> None:
    assert fused.code == 0, fused.err  # though those photos are garbage and never located
    sources = [photofolder.photo_source(p) for p in fused.reads]
    assert not set(sources) & set(HELD_OUT)
    assert sorted(set(sources)) == sorted(TRAIN + VALIDATION)
    assert len(fused.reads) == len(set(fused.reads)) == 4 * len(LETTERS) * PER_LETTER


def test_the_fused_model_reads_like_its_base_without_a_hand(fused: FuseRun, lab: Lab,
                                                            scored: Dataset) -> None:
    loaded = load_model_file(fused.model)
    base = load_model_file(lab.models / "base.keras").model
    assert loaded.metadata["handshape"] == FEATURES_VERSION
    plain = predict_probs(base, scored.x)
    np.testing.assert_allclose(predict_probs(loaded.model, scored.x), plain, rtol=0,
                               atol=1e-6)
    assert scored.handshape.shape == (len(scored), FEATURES)
    with_hands = predict_probs(loaded.model, scored.x, handshape=scored.handshape)
    hand = scored.handshape[:, 0] > 0
    assert hand.sum() == 36 and (~hand).sum() == 12
    np.testing.assert_allclose(with_hands[~hand], plain[~hand], rtol=0, atol=1e-6)
    assert np.abs(with_hands[hand] - plain[hand]).max(axis=1).min() > 1e-4
    # The base file itself is untouched by fusing.
    assert Registry(lab.models).load("base").metadata.get("handshape") is None


# ------------------------------------------------------------------------------ refusals


def assert_refused(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2, (out, err)
    assert out == "" and err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("signlive fuse: error: "), err
    for word in words:
        assert word in err, err


def saved_models(lab: Lab) -> set[str]:
    return {p.name for p in lab.models.iterdir()}


REFUSED = [
    ("a guide-crop base", ["--base", "{models}/guide.keras"], ["must be a hand-crop model"]),
    ("a missing base", ["--base", "{models}/nowhere.keras"], ["model file not found"]),
    ("a base that is not .keras", ["--base", "{models}/base.json"], ["must end in .keras"]),
    ("zero epochs", ["--epochs", "0"], ["epochs must be 1-1000, got 0"]),
    ("too many epochs", ["--epochs", "1001"], ["epochs must be 1-1000"]),
    ("an unknown split", ["--split", "photos-v0"], ["unknown split 'photos-v0'"]),
    ("a bad name", ["--name", "../escape"], ["invalid model name"]),
    ("a missing photo folder", ["--photos", "{models}/no-photos"], ["photo folder not found"]),
]


@pytest.mark.parametrize(("extra", "words"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_fuse_refuses_a_bad_run_in_one_line(lab: Lab, capsys, extra: list[str],
                                            words: list[str]) -> None:
    before = saved_models(lab)
    argv = fuse_argv(lab, *[a.format(models=lab.models) for a in extra])
    assert_refused(*run_cli(capsys, argv), *words)
    assert saved_models(lab) == before


def test_fuse_on_a_fused_model_retrains_its_branch_over_the_same_image_part(
        fused: FuseRun, lab: Lab, capsys, scored: Dataset) -> None:
    """The shipped default's image model has no file of its own: fusing a fused model takes
    its image part (nets.image_part) and trains a new branch; the first file is untouched."""
    assert fused.code == 0
    before = fused.model.read_bytes()
    code, out, err = run_cli(capsys, fuse_argv(lab, "--base", str(fused.model), "--epochs",
                                               "2", "--seed", "1", "--name", "again"))
    assert code == 0, err
    assert fused.model.read_bytes() == before
    again = load_model_file(lab.models / "again.keras")
    first = load_model_file(fused.model)
    base = load_model_file(lab.models / "base.keras").model
    # No hand: exactly the image model, as before; with one, the new branch answers.
    plain = predict_probs(base, scored.x)
    np.testing.assert_allclose(predict_probs(again.model, scored.x), plain, rtol=0, atol=1e-6)
    hand = scored.handshape[:, 0] > 0
    assert np.abs(predict_probs(again.model, scored.x, handshape=scored.handshape)[hand]
                  - predict_probs(first.model, scored.x, handshape=scored.handshape)[hand]
                  ).max() > 1e-4
    meta = again.metadata
    assert meta["arch"] == "cnn+handshape" and meta["handshape"] == FEATURES_VERSION
    assert "image_part_of" not in first.metadata["base_model"]
    assert meta["base_model"]["name"] == "base"  # the image model's own provenance stays
    assert meta["base_model"]["sha256"] == first.metadata["base_model"]["sha256"]
    assert meta["base_model"]["image_part_of"] == {
        "name": "fused", "file": "fused.keras",
        "sha256": hashlib.sha256(before).hexdigest()}
    assert meta["fusion"]["config"]["epochs"] == 2 and len(meta["history"]) == 2


def test_fuse_refuses_photos_without_landmarks(lab: Lab, tmp_path: Path, capsys,
                                               monkeypatch) -> None:
    """Boxes but no landmarks: a cache from before v2's `hands`, or one the locator filled
    without them. Nothing to train the branch on."""
    boxes_only = BoxCache.load(lab.cache / f"hand-boxes-v{locate.BOX_CACHE_VERSION}.json")
    assert boxes_only.hands
    boxes_only.hands.clear()
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path))
    boxes_only.path = locate.default_cache_path()
    boxes_only.save()
    before = saved_models(lab)
    assert_refused(*run_cli(capsys, fuse_argv(lab)),
                   "0 training photos with landmarks", f"signlive locate {lab.photos}")
    assert saved_models(lab) == before


def test_fuse_refuses_a_folder_never_located(lab: Lab, tmp_path: Path, capsys,
                                            monkeypatch) -> None:
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path))  # an empty cache
    assert_refused(*run_cli(capsys, fuse_argv(lab)), "no hand box yet", "signlive locate")


def test_fuse_takes_the_default_crop_fraction_of_a_base_without_one(lab: Lab, tmp_path: Path,
                                                                   capsys) -> None:
    metadata = {k: v for k, v in BASE_METADATA.items() if k != "crop_fraction"}
    shutil.copyfile(lab.models / "base.keras", tmp_path / "bare.keras")
    (tmp_path / "bare.json").write_text(json.dumps({**metadata, "name": "bare"}))
    argv = fuse_argv(lab, "--base", str(tmp_path / "bare.keras"), "--models-dir",
                     str(tmp_path))
    code, _, err = run_cli(capsys, argv)
    assert code == 0, err


def test_fuse_refuses_a_base_without_a_softmax_predictions_layer(lab: Lab, tmp_path: Path,
                                                                 capsys) -> None:
    import keras

    inputs = keras.Input((28, 28, 1), name="image")
    flat = keras.layers.Flatten()(inputs)
    odd = keras.Model(inputs, keras.layers.Dense(24, activation="softmax", name="letters")(flat))
    Registry(tmp_path).save(odd, "odd", {**BASE_METADATA, "name": "odd"})
    argv = fuse_argv(lab, "--base", str(tmp_path / "odd.keras"), "--models-dir", str(tmp_path))
    assert_refused(*run_cli(capsys, argv), "softmax Dense layer named 'predictions'")
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["odd.keras"]  # nothing trained


# ------------------------------------------------------------------ evaluate and predict


def test_evaluate_gives_a_fused_model_the_cached_landmarks(fused: FuseRun, lab: Lab,
                                                            scored: Dataset, tmp_path: Path,
                                                            capsys) -> None:
    results = {}
    for name, model in (("fused", fused.model), ("base", lab.models / "base.keras")):
        code, out, err = run_cli(capsys, ["evaluate", "--model", model, "--data", lab.scored,
                                          "--split", "none", "--json", "--out",
                                          tmp_path / name])
        assert code == 0, err
        results[name] = json.loads(out)
    fused_result, base_result = results["fused"], results["base"]
    assert fused_result["n"] == len(scored) == 48 and fused_result["crop"] == "hand"
    assert "hand found in 36" in fused_result["description"]
    assert fused_result["data_sha256"] == scored.sha256
    # Exactly what the fused model says given each photo's cached hand shape ...
    model = load_model_file(fused.model).model
    with_hands = predict_probs(model, scored.x, handshape=scored.handshape).argmax(axis=1)
    assert fused_result["confusion"] == metrics(scored.y, with_hands)["confusion"]
    # ... which is not what it says without them (its base's answers).
    plain = predict_probs(model, scored.x).argmax(axis=1)
    assert base_result["confusion"] == metrics(scored.y, plain)["confusion"]
    assert fused_result["accuracy"] > base_result["accuracy"]
    assert (tmp_path / "fused" / "confusion.png").is_file()


def predict_json(capsys, model: Path, images: list[Path]) -> dict[str, dict]:
    code, out, err = run_cli(capsys, ["predict", "--model", model, "--json", *images])
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    return {row["path"]: row for row in rows}


def test_predict_gives_a_fused_model_the_cached_landmarks(fused: FuseRun, lab: Lab,
                                                          scored: Dataset, tmp_path: Path,
                                                          capsys) -> None:
    with_hand = lab.scored / "A" / "riya9900_0.jpg"
    left_hand = lab.scored / "C" / "hackmit_1.jpg"
    no_hand = lab.scored / "B" / "riya9900_3.jpg"  # located: no hand found
    never_located = tmp_path / "new.png"
    noise = np.random.default_rng(5).integers(0, 256, (60, 80), dtype=np.uint8)
    assert cv2.imwrite(str(never_located), noise)
    images = [with_hand, left_hand, no_hand, never_located]
    got = predict_json(capsys, fused.model, images)
    base = predict_json(capsys, lab.models / "base.keras", images)
    assert set(got) == set(base) == {str(p) for p in images}
    model = load_model_file(fused.model).model
    for photo in (with_hand, left_hand):
        row = scored.paths.index(str(photo))
        assert scored.handshape[row, 0] == 1.0
        probs = predict_probs(model, scored.x[row:row + 1],
                              handshape=scored.handshape[row:row + 1])[0]
        answer = got[str(photo)]
        assert answer["letter"] == CLASS_LETTERS[int(probs.argmax())]
        assert answer["confidence"] == pytest.approx(float(probs.max()), abs=1e-4)
        assert answer["top"] != base[str(photo)]["top"]  # the hand shape moved the answer
    for photo in (no_hand, never_located):  # no hand shape: the base's answer
        assert got[str(photo)]["top"] == base[str(photo)]["top"]
