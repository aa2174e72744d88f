"""The models folder: safe names, atomic saves, validated loads with clear errors."""

from __future__ import annotations

import json
import os
import zipfile

import keras
import numpy as np
import pytest
from modelkit import tiny_model

from webapp.model import registry
from webapp.model.registry import ModelError, Registry, check_name, load_model_file


@pytest.fixture()
def reg(tmp_path) -> Registry:
    return Registry(tmp_path / "models")


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


@pytest.mark.parametrize("name", ["default", "resnet-20261123-101500", "a", "A.b_c-9", "x" * 64])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", [
    "", ".hidden", "../default", "a/b", "a\\b", "/etc/passwd", "..", "a..b", "x" * 65,
    "model.keras", "model.JSON", "with space", "nul\0byte", "naïve", "-dash", None, 42,
])
def test_bad_names(name, reg):
    with pytest.raises(ModelError, match="invalid model name"):
        check_name(name)
    with pytest.raises(ModelError):
        reg.path(name)
    with pytest.raises(ModelError):
        reg.delete(name)


def test_save_list_load_delete(reg):
    model = tiny_model()
    path = reg.save(model, "m1", {"arch": "tiny", "input_size": 28, "test_accuracy": 0.5})
    assert path == reg.models_dir / "m1.keras"
    assert reg.exists("m1") and (reg.models_dir / "m1.json").is_file()
    assert leftovers(reg.models_dir) == []
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    (entry,) = reg.list()
    assert entry["name"] == "m1" and entry["arch"] == "tiny"
    assert entry["size"] == path.stat().st_size and entry["created"]
    loaded = reg.load("m1")
    assert loaded.name == "m1" and loaded.metadata["test_accuracy"] == 0.5
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded.model(x)), np.asarray(model(x)), atol=1e-6)
    reg.delete("m1")
    assert not reg.exists("m1") and reg.list() == []
    assert list(reg.models_dir.iterdir()) == []
    with pytest.raises(ModelError, match="not found"):
        reg.load("m1")


def test_list_ignores_files_without_metadata_and_shows_broken_metadata(reg):
    reg.save(tiny_model(), "good", {"input_size": 28})
    (reg.models_dir / "orphan.keras").write_bytes((reg.models_dir / "good.keras").read_bytes())
    (reg.models_dir / ".x.partial-123.keras").write_bytes(b"half")
    reg.save(tiny_model(), "broken", {"input_size": 28})
    (reg.models_dir / "broken.json").write_text("{not json")
    entries = {e["name"]: e for e in reg.list()}
    assert set(entries) == {"good", "broken"}
    assert "unreadable model metadata" in entries["broken"]["error"]
    with pytest.raises(ModelError, match="not found"):
        reg.load("orphan")


def test_overwrite_replaces_model_and_metadata_together(reg):
    reg.save(tiny_model(), "m", {"input_size": 28, "version": 1})
    reg.save(tiny_model(), "m", {"input_size": 28, "version": 2})
    assert reg.load("m").metadata["version"] == 2
    assert leftovers(reg.models_dir) == []


def test_interrupted_rename_leaves_old_model_and_no_partial_files(reg, monkeypatch):
    reg.save(tiny_model(), "m", {"input_size": 28, "version": 1})
    before = (reg.models_dir / "m.keras").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(registry.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        reg.save(tiny_model(), "m", {"input_size": 28, "version": 2})
    with pytest.raises(OSError, match="simulated"):
        reg.save(tiny_model(), "new", {"input_size": 28})
    monkeypatch.undo()
    assert (reg.models_dir / "m.keras").read_bytes() == before
    assert reg.load("m").metadata["version"] == 1
    assert not (reg.models_dir / "new.keras").exists()
    assert not (reg.models_dir / "new.json").exists()
    assert leftovers(reg.models_dir) == []


def test_second_rename_failing_unlists_rather_than_mismatches(reg, monkeypatch):
    reg.save(tiny_model(), "m", {"input_size": 28, "version": 1})
    real_replace = os.replace

    def fail_on_json(src, dst):
        if str(dst).endswith("m.json"):
            raise OSError("crash between the renames (simulated)")
        return real_replace(src, dst)

    monkeypatch.setattr(registry.os, "replace", fail_on_json)
    with pytest.raises(OSError, match="simulated"):
        reg.save(tiny_model(), "m", {"input_size": 28, "version": 2})
    monkeypatch.undo()
    assert not reg.exists("m") and reg.list() == []  # never the new file with old metadata
    assert leftovers(reg.models_dir) == []


def test_failure_while_writing_the_model_leaves_nothing(reg, monkeypatch):
    model = tiny_model()

    def half_save(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("killed mid-write (simulated)")

    monkeypatch.setattr(model, "save", half_save)
    with pytest.raises(RuntimeError, match="simulated"):
        reg.save(model, "m", {"input_size": 28})
    assert list(reg.models_dir.iterdir()) == []


def test_metadata_that_cannot_be_json_is_refused_before_writing(reg):
    with pytest.raises(ValueError):
        reg.save(tiny_model(), "m", {"input_size": 28, "loss": float("nan")})
    assert list(reg.models_dir.iterdir()) == []


# -- load_model_file validation ---------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        load_model_file(tmp_path / "nothing.keras")


def test_wrong_suffix(tmp_path):
    with pytest.raises(ModelError, match="must end in .keras"):
        load_model_file(tmp_path / "model.h5")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.keras"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ModelError, match="not a .keras zip archive"):
        load_model_file(path)


def test_zip_that_is_not_a_model(tmp_path):
    path = tmp_path / "fake.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{\"class_name\": \"Nothing\"}")
    with pytest.raises(ModelError, match="does not load"):
        load_model_file(path)


def test_truncated_model_file(reg, tmp_path):
    reg.save(tiny_model(), "m", {"input_size": 28})
    data = (reg.models_dir / "m.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        load_model_file(path)


def test_wrong_number_of_outputs(reg):
    reg.save(tiny_model(outputs=10), "ten", {"input_size": 28})
    with pytest.raises(ModelError, match="output shape"):
        reg.load("ten")


def test_outputs_that_are_not_probabilities(reg):
    reg.save(tiny_model(activation="linear"), "logits", {"input_size": 28})
    with pytest.raises(ModelError, match="not softmax"):
        reg.load("logits")


def test_input_shape_mismatch(reg):
    reg.save(tiny_model(), "m", {"input_size": 32})
    with pytest.raises(ModelError, match="does not match metadata input_size 32"):
        reg.load("m")


@pytest.mark.parametrize("crop", [7, 0, -0.5, "wide", True])
def test_a_crop_fraction_out_of_bounds_is_refused_at_load(reg, crop):
    """Checked where it enters (the model file), so no frame ever meets it."""
    reg.save(tiny_model(), "m", {"input_size": 28, "crop_fraction": crop})
    with pytest.raises(ModelError, match="metadata crop_fraction must be a number in"):
        reg.load("m")


def test_color_input_refused(tmp_path):
    inputs = keras.Input((28, 28, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(24, activation="softmax")(x))
    Registry(tmp_path).save(model, "rgb", {})
    with pytest.raises(ModelError, match="is not \\(None, S, S, 1\\)"):
        load_model_file(tmp_path / "rgb.keras")


@pytest.mark.parametrize("text", ["{broken", "[1, 2]", "\udcff"])
def test_unreadable_metadata(reg, text):
    reg.save(tiny_model(), "m", {"input_size": 28})
    (reg.models_dir / "m.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ModelError, match="metadata"):
        reg.load("m")


def test_bare_model_file_without_metadata_loads(tmp_path):
    tiny_model().save(tmp_path / "bare.keras")
    loaded = load_model_file(tmp_path / "bare.keras")
    assert loaded.name == "bare" and loaded.metadata["input_size"] == 28


def test_saved_metadata_is_plain_json(reg):
    reg.save(tiny_model(), "m", {"input_size": 28, "history": [{"epoch": 1, "loss": 0.5}]})
    data = json.loads((reg.models_dir / "m.json").read_text())
    assert data["name"] == "m" and data["history"][0]["loss"] == 0.5


def test_record_adds_figures_to_the_metadata_atomically(reg, monkeypatch):
    reg.save(tiny_model(), "m", {"input_size": 28, "version": 1})
    reg.record("m", held_out={"split": "photos-v1", "accuracy": 0.5})
    metadata = reg.load("m").metadata
    assert metadata["version"] == 1 and metadata["held_out"]["accuracy"] == 0.5

    def fail_on_json(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(registry.os, "replace", fail_on_json)
    with pytest.raises(OSError, match="simulated"):
        reg.record("m", held_out={"accuracy": 0.9})
    monkeypatch.undo()
    assert reg.load("m").metadata["held_out"]["accuracy"] == 0.5
    assert leftovers(reg.models_dir) == []
    with pytest.raises(ModelError, match="not found"):
        reg.record("missing", held_out={})
    with pytest.raises(ValueError):
        reg.record("m", held_out={"accuracy": float("nan")})  # JSON has no NaN
    assert reg.load("m").metadata["held_out"]["accuracy"] == 0.5
