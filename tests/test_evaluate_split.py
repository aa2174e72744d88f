"""`signlive evaluate` on a photo folder under a named split: only the held-out sources are
scored, with a held-out total and a raw-webcam subtotal; `--split none` scores everything;
the crop is the model's own unless `--crop` says otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagekit import make_photos

from webapp import cli
from webapp.files import file_sha256
from webapp.model.handshape import Hand
from webapp.train import splits
from webapp.train.locate import BoxCache, default_cache_path

SPLIT = splits.load("photos-v1")
RAW_HELD_OUT = ["kynmiiso", "mariia00"]  # held out, raw webcam
OTHER_HELD_OUT = ["massey"]  # held out, multi-person, not raw webcam
NOT_HELD_OUT = ["jbhumika", "kennethowen26"]  # train, validation
PER_SOURCE = 6  # letters A, B, C x 2 photos


def test_the_tags_used_here_have_the_roles_assumed() -> None:
    assert set(RAW_HELD_OUT) <= SPLIT.held_out & SPLIT.raw_webcam
    assert set(OTHER_HELD_OUT) <= SPLIT.held_out - SPLIT.raw_webcam
    assert [SPLIT.role(s) for s in NOT_HELD_OUT] == ["train", "validation"]


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    make_photos(tmp_path / "photos", RAW_HELD_OUT + OTHER_HELD_OUT + NOT_HELD_OUT)
    return tmp_path / "photos"


@pytest.fixture()
def model(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / "tiny.keras"


@pytest.fixture(autouse=True)
def empty_box_cache(tmp_path: Path, monkeypatch) -> Path:
    """A signlive cache folder of this test's own (no hand boxes in it yet)."""
    monkeypatch.setenv("SIGNLIVE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def evaluate_json(capsys, tmp_path: Path, *argv) -> dict:
    code, out, err = run_cli(capsys, "evaluate", *argv, "--json", "--out", tmp_path / "eval")
    assert code == 0, err
    return json.loads(out)


def test_only_held_out_sources_are_scored(model, photos, tmp_path, capsys) -> None:
    result = evaluate_json(capsys, tmp_path, "--model", model, "--data", photos)
    held = sorted(RAW_HELD_OUT + OTHER_HELD_OUT)
    assert sorted(result["per_source"]) == held
    assert all(row["n"] == PER_SOURCE for row in result["per_source"].values())
    assert result["n"] == len(held) * PER_SOURCE == 18
    summary = result["split"]
    assert summary["name"] == "photos-v1"
    assert summary["held_out"]["n"] == 18 and summary["held_out"]["sources"] == held
    # Every scored photo is held out, so the held-out total is the overall accuracy.
    assert summary["held_out"]["accuracy"] == pytest.approx(result["accuracy"])
    raw = summary["raw_webcam"]
    assert raw["sources"] == RAW_HELD_OUT and raw["n"] == 12
    hits = sum(result["per_source"][s]["accuracy"] * PER_SOURCE for s in RAW_HELD_OUT)
    assert raw["accuracy"] == pytest.approx(hits / 12)
    assert result["crop"] == "guide"  # the tiny model has no crop in its metadata
    assert result["description"].startswith(f"{photos} (18 photos, 0 skipped")


def test_split_none_scores_every_photo(model, photos, tmp_path, capsys) -> None:
    result = evaluate_json(capsys, tmp_path, "--model", model, "--data", photos,
                           "--split", "none")
    assert sorted(result["per_source"]) == sorted(RAW_HELD_OUT + OTHER_HELD_OUT + NOT_HELD_OUT)
    assert result["n"] == 30 and "split" not in result


def test_the_report_shows_the_totals(model, photos, tmp_path, capsys) -> None:
    code, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", photos,
                             "--out", tmp_path / "eval")
    assert code == 0, err
    assert "split photos-v1: held-out sources only" in out
    held_line = next(line for line in out.splitlines() if "held-out total" in line)
    assert held_line.split()[-4:] == ["18", "(kynmiiso,", "mariia00,", "massey)"]
    raw_line = next(line for line in out.splitlines() if "raw webcam" in line)
    assert raw_line.split()[-3:] == ["12", "(kynmiiso,", "mariia00)"]
    for name in NOT_HELD_OUT:
        assert name not in out


def test_unknown_split_is_one_clear_line(model, photos, tmp_path, capsys) -> None:
    code, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", photos,
                             "--split", "photos-v9", "--out", tmp_path / "eval")
    assert code != 0 and out == ""
    (line,) = err.strip().splitlines()
    assert line == "signlive evaluate: error: unknown split 'photos-v9'; known: photos-v1"


def test_hand_crop_without_boxes_says_to_run_locate(model, photos, tmp_path, capsys) -> None:
    code, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", photos,
                             "--crop", "hand", "--out", tmp_path / "eval")
    assert code != 0 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("signlive evaluate: error: ")
    # Only the 18 held-out photos need boxes: the others are not going to be read.
    assert "18 of 18 photos have no hand box yet" in line
    assert f"run `signlive locate {photos}` first" in line


def test_hand_crop_is_the_models_own_and_uses_the_boxes(tiny_models_dir, photos, tmp_path,
                                                        capsys) -> None:
    # A copy of the tiny model whose metadata says it was trained on hand crops.
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "handy.keras").write_bytes((tiny_models_dir / "tiny.keras").read_bytes())
    meta = json.loads((tiny_models_dir / "tiny.json").read_text())
    (folder / "handy.json").write_text(json.dumps({**meta, "name": "handy", "crop": "hand"}))
    handy = folder / "handy.keras"
    code, _, err = run_cli(capsys, "evaluate", "--model", handy, "--data", photos,
                           "--out", tmp_path / "eval")
    assert code != 0 and "signlive locate" in err  # no --crop: the model's hand crop

    cache = BoxCache(default_cache_path())
    held = [p for p in sorted(photos.glob("*/*.jpg"))
            if p.name.rsplit("_", 1)[0] in RAW_HELD_OUT + OTHER_HELD_OUT]
    hand = Hand(tuple((12.0 + i % 5 * 3, 10.0 + i, 0.0) for i in range(21)), "Right")
    for index, path in enumerate(held):
        cache.boxes[file_sha256(path)] = None if index % 3 == 0 else (10, 8, 20, 24)
        if index % 3:
            cache.hands[file_sha256(path)] = hand
    cache.save()
    result = evaluate_json(capsys, tmp_path, "--model", handy, "--data", photos)
    assert result["crop"] == "hand" and result["n"] == 18
    assert "hand crop, hand found in 12" in result["description"]
    # Accuracy is reported apart where the hand was found and where it was not.
    found, missed = result["by_hand"]["found"], result["by_hand"]["not_found"]
    assert (found["n"], missed["n"]) == (12, 6)
    assert found["correct"] + missed["correct"] == result["correct"]
    code, out, _ = run_cli(capsys, "evaluate", "--model", handy, "--data", photos,
                           "--out", tmp_path / "eval")
    assert code == 0 and "no hand found" in out and "hand found" in out
    guide = evaluate_json(capsys, tmp_path, "--model", handy, "--data", photos, "--crop", "guide")
    assert guide["crop"] == "guide" and guide["n"] == 18
    assert guide["data_sha256"] == result["data_sha256"]  # the same photos, cropped otherwise


def test_a_folder_the_split_does_not_describe_is_scored_whole(model, tmp_path,
                                                               capsys) -> None:
    other = tmp_path / "other"
    make_photos(other, ["cam", "phone"], per_letter=1)
    result = evaluate_json(capsys, tmp_path, "--model", model, "--data", other)
    assert sorted(result["per_source"]) == ["cam", "phone"] and result["n"] == 6
    assert "split" not in result


def test_a_split_folder_without_held_out_photos_is_refused(model, tmp_path,
                                                           capsys) -> None:
    no_held = tmp_path / "no-held"
    make_photos(no_held, NOT_HELD_OUT, per_letter=1)
    code, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", no_held,
                             "--out", tmp_path / "eval")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line == (f"signlive evaluate: error: {no_held}: none of the held-out sources of "
                    "split photos-v1 is in it (--split none scores every photo)")
    result = evaluate_json(capsys, tmp_path, "--model", model, "--data", no_held,
                           "--split", "none")
    assert result["n"] == 6


def test_record_keeps_the_held_out_score_in_the_models_json(tmp_path, photos, capsys) -> None:
    from modelkit import register

    from webapp.model.registry import Registry

    folder = tmp_path / "models"
    register(folder, "scored")
    model = folder / "scored.keras"
    result = evaluate_json(capsys, tmp_path, "--model", model, "--data", photos, "--record")
    held = json.loads((folder / "scored.json").read_text())["held_out"]
    assert held == {"split": "photos-v1", "accuracy": result["split"]["held_out"]["accuracy"],
                    "n": 18, "raw_webcam": result["split"]["raw_webcam"]["accuracy"],
                    "photos_sha256": result["data_sha256"]}
    assert Registry(folder).load("scored").metadata["held_out"] == held  # the model still loads
    # Only a full run of the model's own spec on the split's held-out sources is kept.
    before = (folder / "scored.json").read_text()
    for extra in (["--limit", "3"], ["--crop-fraction", "0.5"], ["--split", "none"]):
        code, _, err = run_cli(capsys, "evaluate", "--model", model, "--data", photos,
                               "--record", "--out", tmp_path / "eval", *extra)
        assert code != 0 and "--record keeps a full run" in err
    other = tmp_path / "loose.keras"
    other.write_bytes(model.read_bytes())  # no .json beside it
    code, _, err = run_cli(capsys, "evaluate", "--model", other, "--data", photos, "--record",
                           "--out", tmp_path / "eval")
    assert code != 0 and "in the .json beside the model" in err
    assert (folder / "scored.json").read_text() == before
