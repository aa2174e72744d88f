"""Training runs end to end on a small slice of the real data (1 epoch: seconds, not minutes).

Accuracy is not asserted: a few hundred rows for one epoch learn little. What is asserted is the
contract: a loadable model + complete metadata + history, progress events in order, prompt
cancellation that registers nothing, clear parameter errors, and the CLI.
"""

from __future__ import annotations

import json

import pytest
from imagekit import make_photos

from webapp import cli
from webapp.model.registry import Registry
from webapp.train.training import ConfigError, TrainConfig, TrainingCancelled, train

METADATA_KEYS = {
    "name", "arch", "letters", "input_size", "crop_fraction", "test_accuracy", "per_class",
    "params", "trained_at", "epochs", "data_sha256", "training_seconds", "device", "history",
    "keras_version", "backend", "confusion",
}
HISTORY_KEYS = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


def small(tmp_path, data_dir, **overrides) -> TrainConfig:
    settings = dict(arch="cnn", epochs=1, batch_size=64, limit=300, name="tiny",
                    data_dir=str(data_dir), models_dir=str(tmp_path / "models"))
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """One real 2-epoch run on 300 rows, with its progress events. The cnn, because train()
    always scores the full 7,172-image test split, which takes the resnet ~20 s on 2 cores."""
    tmp = tmp_path_factory.mktemp("train")
    events: list[dict] = []
    config = small(tmp, data_dir, epochs=2)
    result = train(config, progress=events.append)
    return config, result, events


def test_run_registers_a_loadable_model_with_full_metadata(run, data_dir):
    config, result, _ = run
    registry = Registry(config.models_dir)
    assert result.name == "tiny" and result.model_path == registry.path("tiny")
    loaded = registry.load("tiny")
    meta = loaded.metadata
    assert METADATA_KEYS <= set(meta)
    assert meta["arch"] == "cnn" and meta["input_size"] == 28 and meta["epochs"] == 2
    assert meta["params"] == loaded.model.count_params()
    assert len(meta["letters"]) == 24 and set(meta["per_class"]) == set(meta["letters"])
    assert 0.0 <= meta["test_accuracy"] <= 1.0 and meta["test_n"] == 7172
    assert len(meta["data_sha256"]) == 64 and meta["backend"] == "tensorflow"
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    for row in meta["history"]:
        assert set(row) == HISTORY_KEYS
        assert row["val_accuracy"] is not None and row["seconds"] > 0
    assert 1 <= meta["best_epoch"] <= 2
    # The saved model is the bare network: no augmentation layers ride along into serving.
    assert not any("random" in layer.name for layer in loaded.model.layers)
    assert sorted(p.name for p in result.model_path.parent.iterdir()) == ["tiny.json", "tiny.keras"]


def test_progress_events_arrive_in_order(run):
    _, result, events = run
    json.dumps(events)  # JSON-serialisable: the admin relays them as they are
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    start = events[0]
    assert start["epochs"] == 2 and start["arch"] == "cnn" and start["name"] == "tiny"
    steps = start["steps_per_epoch"]
    assert steps == 5  # 270 training rows (300 minus a 10% validation split) / 64
    for epoch in (1, 2):
        batches = [e for e in events if e["type"] == "batch" and e["epoch"] == epoch]
        assert batches and batches[-1]["batch"] == steps == batches[-1]["steps"]
        assert [b["batch"] for b in batches] == sorted(b["batch"] for b in batches)
        assert all(b["eta_s"] >= 0 and b["loss"] is not None for b in batches)
    epoch_events = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epoch_events] == [1, 2]
    assert kinds.index("epoch") > kinds.index("batch")
    assert epoch_events[-1]["eta_s"] == 0
    assert events[-1] == {"type": "end", "test_accuracy": result.metadata["test_accuracy"],
                          "name": "tiny"}


def test_should_stop_cancels_promptly_and_registers_nothing(tmp_path, data_dir):
    events: list[dict] = []
    batches_seen = []

    def should_stop() -> bool:
        batches_seen.append(1)
        return len(batches_seen) >= 2

    config = small(tmp_path, data_dir, epochs=3)
    with pytest.raises(TrainingCancelled):
        train(config, progress=events.append, should_stop=should_stop)
    assert len(batches_seen) == 2  # stopped at the second batch end, not at the end of the run
    assert not any(e["type"] in ("epoch", "end") for e in events)
    models = tmp_path / "models"
    assert not models.exists() or list(models.iterdir()) == []


def test_no_validation_split_and_no_augmentation(tmp_path, data_dir):
    result = train(small(tmp_path, data_dir, val_fraction=0.0, augment=False, name="noval"))
    (row,) = result.metadata["history"]
    assert row["val_loss"] is None and row["val_accuracy"] is None
    assert result.metadata["val_rows"] == 0 and result.metadata["train_rows"] == 300
    assert Registry(tmp_path / "models").exists("noval")


def test_negatives_train_hand_free_pictures_towards_a_flat_answer(tmp_path, data_dir):
    """--negatives adds hand-free pictures with a flat target: the loss becomes categorical
    cross-entropy over probability vectors; validation and test stay the real letters."""
    import numpy as np

    from webapp.model.letters import NUM_CLASSES
    from webapp.train import negatives
    from webapp.train.training import _with_negatives

    x = np.zeros((10, 28, 28, 1), np.float32)
    y = np.arange(10, dtype=np.int32)
    x2, y2, xv, yv, count = _with_negatives(x, y, x[:4], y[:4], 0.5, seed=0)
    assert count == 5 and x2.shape == (15, 28, 28, 1) and y2.shape == (15, NUM_CLASSES)
    np.testing.assert_array_equal(y2[:10].argmax(axis=1), y)
    np.testing.assert_allclose(y2[10:], 1 / NUM_CLASSES)
    np.testing.assert_array_equal(x2[10:], negatives.hand_free_images(5, 28, 0))
    assert xv.shape == (4, 28, 28, 1) and yv.shape == (4, NUM_CLASSES)

    result = train(small(tmp_path, data_dir, negatives=0.5, name="negs"))
    meta = result.metadata
    assert meta["negative_rows"] == round(0.5 * meta["train_rows"]) > 0
    assert meta["config"]["negatives"] == 0.5 and meta["test_n"] == 7172
    assert meta["history"][0]["val_accuracy"] is not None


def test_run_on_a_photo_folder_tests_on_held_out_sources(tmp_path, capsys):
    """`signlive train --data PHOTOS`: the photos go through preprocess() with the chosen crop,
    whole sources are held out as the test set, and the metadata says which."""
    photos = tmp_path / "photos"
    make_photos(photos, ["cam", "phone", "studio", "web"], per_letter=3)
    models = tmp_path / "models"
    code = cli.main(["train", "--arch", "cnn", "--epochs", "1", "--batch-size", "8",
                     "--data", str(photos), "--crop-fraction", "0.9", "--models-dir",
                     str(models), "--name", "photos"])
    assert code == 0, capsys.readouterr().err
    meta = Registry(models).load("photos").metadata
    assert meta["crop_fraction"] == 0.9 and meta["config"]["crop_fraction"] == 0.9
    assert meta["crop"] == "guide"  # a photo folder given as --data: the guide square, no boxes
    assert "held-out test, sources" in meta["test_data"]
    assert str(photos) in meta["train_data"] and "crop 0.900" in meta["train_data"]
    assert meta["test_n"] + meta["train_rows"] + meta["val_rows"] == 36
    assert meta["test_n"] % 9 == 0  # whole sources: 3 letters x 3 photos each


@pytest.mark.parametrize("field, value", [
    ("arch", "vgg16"), ("epochs", 0), ("epochs", 501), ("epochs", 2.5), ("epochs", True),
    ("batch_size", 4), ("batch_size", 5000), ("learning_rate", 0), ("learning_rate", 1.5),
    ("learning_rate", "0.1"), ("val_fraction", 0.5), ("val_fraction", -0.1),
    ("augment", "yes"), ("early_stopping", -1), ("limit", -5), ("seed", -1),
    ("name", "../evil"), ("name", "x.keras"), ("crop_fraction", 0.01), ("crop_fraction", 1.5),
    ("negatives", -0.1), ("negatives", 2), ("negatives", "some"),
])
def test_validate_names_the_field(field, value):
    config = TrainConfig(**{field: value})
    with pytest.raises(ConfigError) as info:
        config.validate()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_default_config_is_valid():
    assert TrainConfig().validate().arch == "resnet"


def test_cli_train_on_a_tiny_slice(tmp_path, data_dir, capsys):
    models = tmp_path / "models"
    code = cli.main(["train", "--arch", "cnn", "--epochs", "1", "--limit", "300",
                     "--batch-size", "64", "--data", str(data_dir), "--models-dir", str(models),
                     "--name", "from-cli", "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == 0
    assert f"saved {models / 'from-cli.keras'}" in out and "test accuracy" in out
    assert "epoch 1/1" in err and "loss" in err and "ETA" in err
    assert Registry(models).load("from-cli").metadata["config"]["seed"] == 3


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "2"], "batch_size"),
    (["--name", "../../etc/x"], "invalid model name"),
    (["--data", "/nonexistent/folder"], "data folder not found"),
])
def test_cli_train_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    code = cli.main(["train", "--arch", "cnn", "--epochs", "1", "--limit", "100",
                     "--models-dir", str(tmp_path / "models"), *args])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("signlive train: error: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []
