"""One training run: a TrainConfig in; a registered model, its metadata and history out.

The same function serves `signlive train` and the admin's training jobs (which run it in a child
process and relay `progress` events). Augmentation wraps the network only for `fit`; the saved
model is the bare network, so serving never pays for augmentation and the file loads with plain
`keras.saving.load_model`. The run keeps the weights of its best validation epoch, evaluates them
on the test split, and only then registers the model, atomically: a cancelled, failed or killed
run leaves nothing under a real name.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from webapp import config as app_config
from webapp import device
from webapp.model import nets
from webapp.model.letters import NUM_CLASSES
from webapp.model.preprocess import DEFAULT_CROP_FRACTION, DEFAULT_INPUT_SIZE
from webapp.model.registry import ModelError, Registry, check_name
from webapp.model.spec import ModelSpec, SpecError
from webapp.train import evaluation, negatives, splits, trainingsets
from webapp.train.splits import DEFAULT_SPLIT

TRAIN_ON = ("csv", "photos", "both")  # Sign MNIST, the photo folder, or both mixed

Progress = Callable[[dict], None]
ShouldStop = Callable[[], bool]

BATCH_EVENT_INTERVAL_S = 0.25  # at most ~4 batch events a second


class TrainingCancelled(Exception):
    """should_stop() asked the run to stop; nothing was registered."""


class TrainingError(RuntimeError):
    """The run could not produce a usable model (e.g. the loss diverged)."""


class ConfigError(ValueError):
    """A training parameter out of bounds; `field` names it (the admin API reports it)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class TrainConfig:
    """The parameters of one run (the CLI flags and the admin form map onto these)."""

    arch: str = "resnet"
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    augment: bool = True
    name: str | None = None
    data_dir: str | None = None
    models_dir: str | None = None
    val_fraction: float = 0.1
    early_stopping: int = 0
    limit: int = 0
    seed: int = 0
    input_size: int = field(default=DEFAULT_INPUT_SIZE)
    crop_fraction: float = DEFAULT_CROP_FRACTION  # the guide square, for photo-folder data
    negatives: float = 0.1  # hand-free pictures added, as a fraction of the training rows
    train_on: str = "csv"  # "csv" (Sign MNIST), "photos" (photos_dir) or "both"
    photos_dir: str | None = None  # default: $SIGNLIVE_PHOTOS or ../shared/photos
    crop: str = "hand"  # photos: the square around the located hand, or the "guide" square
    split: str = DEFAULT_SPLIT  # the named photo split: held-out sources are never read

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first bad field; returns self for chaining."""
        def integer(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(name, f"must be an integer from {low} to {high}, got {value!r}")

        if self.arch not in nets.ARCHS:
            raise ConfigError("arch", f"must be one of {', '.join(nets.ARCHS)}, got {self.arch!r}")
        integer("epochs", 1, 500)
        integer("batch_size", 8, 4096)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 1:
            raise ConfigError("learning_rate", f"must be a number in (0, 1], got {lr!r}")
        if not isinstance(self.augment, bool):
            raise ConfigError("augment", f"must be true or false, got {self.augment!r}")
        vf = self.val_fraction
        if isinstance(vf, bool) or not isinstance(vf, (int, float)) or not 0.0 <= vf < 0.5:
            raise ConfigError("val_fraction", f"must be a number in [0, 0.5), got {vf!r}")
        integer("early_stopping", 0, 500)
        integer("limit", 0, 10_000_000)
        integer("seed", 0, 2**31 - 1)
        neg = self.negatives
        if isinstance(neg, bool) or not isinstance(neg, (int, float)) or not 0.0 <= neg <= 1.0:
            raise ConfigError("negatives", f"must be a number in [0, 1], got {neg!r}")
        if self.train_on not in TRAIN_ON:
            raise ConfigError("train_on", f"must be one of {', '.join(TRAIN_ON)}, "
                                          f"got {self.train_on!r}")
        if self.split not in splits.available():
            raise ConfigError("split", f"must be one of {', '.join(splits.available())}, "
                                       f"got {self.split!r}")
        try:
            ModelSpec(self.input_size, self.crop, self.crop_fraction)
        except SpecError as exc:
            raise ConfigError(exc.field, exc.problem) from None
        if self.name is not None:
            try:
                check_name(self.name)
            except ModelError as exc:
                raise ConfigError("name", str(exc)) from None
        return self

    def spec(self) -> ModelSpec:
        """How the trained model will be fed. A run without the photo folder (Sign MNIST, or a
        photo folder given as --data, which is cut by the guide square) never saw a hand crop."""
        crop = self.crop if self.train_on != "csv" else "guide"
        return ModelSpec(self.input_size, crop, self.crop_fraction)


@dataclass
class TrainResult:
    name: str
    model_path: Path
    metadata: dict


def _finite_or_none(value: object) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _make_callback(total_epochs: int, steps: int, progress: Progress | None,
                   should_stop: ShouldStop | None, patience: int, has_val: bool, core):
    """Progress events, cancellation at batch ends, per-epoch history, best weights."""
    import keras

    class RunCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[dict] = []
            self.best_score: tuple[float, float] | None = None
            self.best_weights = None
            self.best_epoch = 0
            self.run_start = time.perf_counter()
            self.epoch_start = self.run_start
            self.last_event = 0.0
            self.epoch = 0

        def _emit(self, event: dict) -> None:
            if progress is not None:
                progress(event)

        def _check_stop(self) -> None:
            if should_stop is not None and should_stop():
                raise TrainingCancelled("training cancelled")

        def _epoch_seconds_estimate(self, batch_seconds: float) -> float:
            if self.history:
                return sum(h["seconds"] for h in self.history) / len(self.history)
            return batch_seconds * steps

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self._check_stop()
            now = time.perf_counter()
            done = batch + 1
            if now - self.last_event < BATCH_EVENT_INTERVAL_S and done != steps:
                return
            self.last_event = now
            logs = logs or {}
            per_batch = (now - self.epoch_start) / done
            eta = per_batch * (steps - done) + self._epoch_seconds_estimate(per_batch) * (
                total_epochs - self.epoch)
            self._emit({"type": "batch", "epoch": self.epoch, "batch": done, "steps": steps,
                        "loss": _finite_or_none(logs.get("loss")),
                        "accuracy": _finite_or_none(logs.get("accuracy")),
                        "eta_s": round(eta, 1)})

        def on_test_batch_end(self, batch, logs=None):
            self._check_stop()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            seconds = time.perf_counter() - self.epoch_start
            row = {"epoch": epoch + 1,
                   "loss": _finite_or_none(logs.get("loss")),
                   "accuracy": _finite_or_none(logs.get("accuracy")),
                   "val_loss": _finite_or_none(logs.get("val_loss")) if has_val else None,
                   "val_accuracy": _finite_or_none(logs.get("val_accuracy")) if has_val else None,
                   "seconds": round(seconds, 2)}
            self.history.append(row)
            if row["loss"] is None:
                raise TrainingError(
                    f"the loss diverged (not a number) in epoch {epoch + 1}; "
                    "try a lower learning rate")
            # Best = highest val accuracy, ties broken by lower val loss; without a validation
            # split the last epoch counts as best.
            if has_val:
                score = (row["val_accuracy"] or 0.0, -(row["val_loss"] or math.inf))
                if self.best_score is None or score > self.best_score:
                    self.best_score, self.best_epoch = score, epoch + 1
                    self.best_weights = core.get_weights()
                elif patience and epoch + 1 - self.best_epoch >= patience:
                    self.model.stop_training = True
            else:
                self.best_epoch = epoch + 1
            eta = self._epoch_seconds_estimate(seconds) * (total_epochs - epoch - 1)
            self._emit({"type": "epoch", "epoch": epoch + 1, "epochs": total_epochs,
                        "loss": row["loss"], "accuracy": row["accuracy"],
                        "val_loss": row["val_loss"], "val_accuracy": row["val_accuracy"],
                        "seconds": row["seconds"], "eta_s": round(eta, 1)})

    return RunCallback()


def _tensorflow_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _fit_inputs(x, y, batch_size: int, shuffle: bool, seed: int) -> dict:
    """fit() arguments for one split: a prefetching tf.data pipeline when TensorFlow is there
    (always, on the default backend), else the arrays themselves (Keras batches them), so that
    the JAX/PyTorch backends train on a machine without TensorFlow."""
    if _tensorflow_available():

        # shuffle=False: the pipeline shuffles itself (fit would only warn about it).
        return {"data": trainingsets.to_tf_dataset(x, y, batch_size, shuffle=shuffle, seed=seed),
                "shuffle": False}
    return {"data": (x, y), "batch_size": batch_size, "shuffle": shuffle}


def _compile(trainer, learning_rate: float, total_steps: int, jit_compile,
             soft_targets: bool = False) -> None:
    """Adam with cosine decay; class indices as targets, or probability vectors
    (`soft_targets`) when hand-free pictures train towards a flat distribution."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, total_steps), alpha=0.01)
    if soft_targets:
        loss, accuracy = "categorical_crossentropy", keras.metrics.CategoricalAccuracy("accuracy")
    else:
        loss, accuracy = "sparse_categorical_crossentropy", "accuracy"
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=[accuracy],
                    jit_compile=jit_compile)


def make_trainer(core, augment: bool, seed: int, learning_rate: float, total_steps: int,
                 soft_targets: bool = False, webcam: bool = False):
    """The compiled model that fit() trains: `core` behind the augmentation layers when
    `augment` (the saved model stays the bare `core`; `webcam` adds the camera-like ones).
    train() and bench/train_speed.py both train through this, so the bench measures what a
    run does."""
    import keras

    trainer = core
    if augment:
        inputs = keras.Input(shape=core.input_shape[1:], name="image")
        trainer = keras.Model(inputs, core(nets.augmentation(seed, webcam)(inputs)),
                              name=f"{core.name}_train")
    _compile(trainer, learning_rate, total_steps, _jit_setting(), soft_targets)
    return trainer


def _with_negatives(x_train, y_train, x_val, y_val, fraction: float, seed: int,
                    room_photos: list[str] | None = None):
    """Training rows plus hand-free pictures with a flat target over the letters; all targets
    become probability vectors (validation too, for the shared loss; it gets no negatives).
    With `room_photos` (hand-cropped training photos), half of them are real rooms cut away
    from the hand (negatives.room_crops), the rest synthetic scenes (negatives.hand_free_images)."""
    import numpy as np

    count = int(round(fraction * len(y_train)))
    size = x_train.shape[1]
    rooms = negatives.room_crops(room_photos, count // 2, size, seed) if room_photos else None
    made = len(rooms) if rooms is not None else 0
    parts = [x_train, negatives.hand_free_images(count - made, size, seed)]
    if made:
        parts.append(rooms)
    eye = np.eye(NUM_CLASSES, dtype=np.float32)
    x = np.concatenate(parts)
    y = np.concatenate([eye[y_train], np.full((count, NUM_CLASSES), 1 / NUM_CLASSES,
                                              np.float32)])
    return x, y, x_val, eye[y_val], count


def _jit_setting():
    """XLA for fit. SIGNLIVE_JIT=0/1 forces it; otherwise on by force for JAX and Keras's choice
    ("auto") elsewhere. Keras's "auto" turns XLA off for the whole training graph when the
    augmentation layers are in it (their TensorFlow kernels lack XLA support), which on JAX means
    op-by-op execution: about 100x slower on a GPU. On TensorFlow/CPU XLA measured no faster
    for the resnet (docs/PERFORMANCE.md), so "auto" (off) stays.
    """
    raw = os.environ.get("SIGNLIVE_JIT", "").strip().lower()
    if raw in ("0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    import keras

    return True if keras.backend.backend() == "jax" else "auto"


def train(config: TrainConfig, progress: Progress | None = None,
          should_stop: ShouldStop | None = None) -> TrainResult:
    """Train, keep the best validation epoch's weights, test, register. See the module doc."""
    config.validate()
    import keras

    started = time.perf_counter()
    name = config.name or f"{config.arch}-{datetime.now():%Y%m%d-%H%M%S}"
    data_dir = app_config.data_dir(config.data_dir)
    registry = Registry(app_config.models_dir(config.models_dir))
    registry.path(name)  # validates the name before any work
    keras.utils.set_random_seed(config.seed)

    # A CSV folder or a <LETTER>/<image> photo folder; the test set is read now, so a broken
    # one fails the run before any training time is spent.
    photos = app_config.photos_dir(config.photos_dir) if config.train_on != "csv" else None
    spec = config.spec()
    sets = trainingsets.load_training_data(data_dir if config.train_on != "photos" else None, spec,
                                   limit=config.limit, val_fraction=config.val_fraction,
                                   seed=config.seed, photos=photos, split=config.split)
    x_train, y_train, x_val, y_val = sets.x_train, sets.y_train, sets.x_val, sets.y_val
    has_val = len(x_val) > 0
    negative_rows = 0
    if config.negatives > 0:
        x_train, y_train, x_val, y_val, negative_rows = _with_negatives(
            x_train, y_train, x_val, y_val, config.negatives, config.seed,
            sets.train_photos if spec.reads_hand_box else None)
    steps = max(1, math.ceil(len(x_train) / config.batch_size))

    core = nets.build_model(config.arch, config.input_size)
    trainer = make_trainer(core, config.augment, config.seed, config.learning_rate,
                           steps * config.epochs, soft_targets=negative_rows > 0,
                           webcam=photos is not None)

    callback = _make_callback(config.epochs, steps, progress, should_stop,
                              config.early_stopping, has_val, core)
    if progress is not None:
        progress({"type": "start", "epochs": config.epochs, "steps_per_epoch": steps,
                  "arch": config.arch, "name": name})
    train_inputs = _fit_inputs(x_train, y_train, config.batch_size, True, config.seed)
    fit_kwargs = {k: v for k, v in train_inputs.items() if k != "data"}
    if has_val:
        val_batch = max(config.batch_size, 256)
        val_inputs = _fit_inputs(x_val, y_val, val_batch, False, config.seed)
        fit_kwargs["validation_data"] = val_inputs["data"]
        if isinstance(val_inputs["data"], tuple):
            fit_kwargs["validation_batch_size"] = val_batch
    fit_args = train_inputs["data"]
    if isinstance(fit_args, tuple):
        trainer.fit(*fit_args, epochs=config.epochs, callbacks=[callback], verbose=0, **fit_kwargs)
    else:
        trainer.fit(fit_args, epochs=config.epochs, callbacks=[callback], verbose=0, **fit_kwargs)
    if callback.best_weights is not None:
        core.set_weights(callback.best_weights)
    train_seconds = time.perf_counter() - started

    if should_stop is not None and should_stop():
        raise TrainingCancelled("training cancelled")
    result = evaluation.evaluate(core, sets.test)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("training cancelled")

    metadata = {
        "name": name,
        "arch": config.arch,
        **spec.to_metadata(),
        "split": config.split if photos is not None else None,
        "test_accuracy": float(result["accuracy"]),
        "test_n": int(result["n"]),
        "per_class": result["per_class"],
        "confusion": result["confusion"],
        "params": int(core.count_params()),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "epochs": len(callback.history),
        "best_epoch": callback.best_epoch,
        "data_sha256": sets.sha256,
        "train_data": sets.description,
        "test_data": sets.test.description,
        "training_seconds": round(train_seconds, 1),
        "device": device.describe(),
        "history": callback.history,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "config": {k: v for k, v in asdict(config).items()
                   if k not in ("data_dir", "models_dir", "name")},
        "train_rows": int(len(x_train)) - negative_rows,
        "negative_rows": negative_rows,
        "val_rows": int(len(x_val)) if has_val else 0,
    }
    model_path = registry.save(core, name, metadata)
    if progress is not None:
        progress({"type": "end", "test_accuracy": metadata["test_accuracy"], "name": name})
    return TrainResult(name=name, model_path=model_path, metadata=metadata)
