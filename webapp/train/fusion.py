"""`signlive fuse`: add the hand's shape to a trained hand-crop image model.

Why a second stage instead of one bigger training run: the hand-shape branch is a small MLP
over 64 numbers (webapp/model/handshape.py), trained in seconds on the photos' cached landmarks,
while the image model takes an hour of CPU. The image model is taken whole and frozen
(nets.build_fused), so the fused model reads exactly like its base wherever no hand is found
(Sign MNIST, empty rooms, hands the locator misses) and the base's Sign MNIST figures hold.

The protocol is the split's (webapp/train/splits): the branch trains on the training sources' hands,
and the validation sources choose the epoch and how much the branch counts against the image
(`weight`, folded into its last layer). The held-out sources are never read here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from webapp import config as app_config
from webapp import device
from webapp.files import DataError, file_sha256
from webapp.model import nets
from webapp.model.handshape import augment
from webapp.model.letters import CLASS_LETTERS
from webapp.model.nets import HANDSHAPE_DROPOUT, HANDSHAPE_HIDDEN
from webapp.model.registry import LoadedModel, ModelError, Registry, load_model_file
from webapp.train import splits
from webapp.train.evaluation import predict_probs
from webapp.train.photofolder import load_photo_folder

if TYPE_CHECKING:
    import keras

# How much the hand-shape branch's logits count against the image model's: the validation
# sources pick one of these.
WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
Progress = Callable[[dict], None]


class FuseError(ValueError):
    """A fuse run that cannot start or finish (bad base model, no landmarks, bad setting)."""


@dataclass
class FuseConfig:
    base: str  # path of the hand-crop image model (.keras)
    name: str = ""
    photos_dir: str | None = None  # default: config.photos_dir() ($SIGNLIVE_PHOTOS)
    split: str = splits.DEFAULT_SPLIT
    epochs: int = 40
    seed: int = 0
    hidden: tuple[int, ...] = HANDSHAPE_HIDDEN
    dropout: float = HANDSHAPE_DROPOUT
    batch_size: int = 128
    learning_rate: float = 1e-3
    models_dir: str | None = None
    weights: tuple[float, ...] = field(default=WEIGHTS)

    def validate(self) -> FuseConfig:
        if not 1 <= int(self.epochs) <= 1000:
            raise FuseError(f"epochs must be 1-1000, got {self.epochs}")
        if not self.hidden or any(not 1 <= int(w) <= 4096 for w in self.hidden):
            raise FuseError(f"hidden layer widths must be 1-4096, got {self.hidden}")
        if not 0 <= float(self.dropout) < 1:
            raise FuseError(f"dropout must be in [0, 1), got {self.dropout}")
        return self


@dataclass
class FuseResult:
    name: str
    model_path: Path
    metadata: dict


def _base(path: str) -> tuple[LoadedModel, dict]:
    """The image model to fuse and what the fused model records of it ("base_model").

    A model that already reads the hand's shape gives its image part, so that its branch can
    be trained anew (the shipped default's image model has no file of its own)."""
    try:
        base = load_model_file(path)
    except ModelError as exc:
        raise FuseError(str(exc)) from None
    if not base.spec.reads_hand_box:
        raise FuseError(f"{path}: the base must be a hand-crop model (metadata \"crop\": "
                        "\"hand\"): its landmarks come with the hand box it crops around")
    this_file = {"name": base.name, "file": os.path.basename(path),
                 "sha256": file_sha256(path)}
    record = {**this_file, "history": base.metadata.get("history"),
              "config": base.metadata.get("config"),
              "training_seconds": base.metadata.get("training_seconds")}
    if nets.reads_handshape(base.model):
        earlier = base.metadata.get("base_model")
        record = {**(earlier if isinstance(earlier, dict) else {}), "image_part_of": this_file}
        try:
            image = nets.image_part(base.model)
        except ValueError as exc:
            raise FuseError(f"{path}: its image part cannot be taken out: {exc}") from None
        metadata = {k: v for k, v in base.metadata.items()
                    if k not in ("handshape", "fusion", "base_model")}
        metadata["arch"] = str(metadata.get("arch", "model")).removesuffix("+handshape")
        base = LoadedModel(image, metadata, base.name, base.path, base.spec.without_hand_shape())
    # build_fused splits the last layer into logits + softmax: it must be that layer.
    names = {layer.name: layer for layer in base.model.layers}
    head = names.get("predictions")
    if head is None or type(head).__name__ != "Dense" or getattr(
            head.activation, "__name__", "") != "softmax":
        raise FuseError(f"{path}: the base's last layer must be a softmax Dense layer named "
                        "'predictions' (as every signlive architecture has)")
    return base, record


def compiled_branch(config: FuseConfig) -> keras.Model:
    """A fresh hand-shape branch, compiled as fuse trains it (bench/shape_cv.py too)."""
    import keras

    branch = nets.build_handshape_branch(config.hidden, config.dropout)
    branch.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    return branch


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == y).mean()) if len(y) else 0.0


def fuse(config: FuseConfig, progress: Progress | None = None) -> FuseResult:
    """Train the hand-shape branch for `config.base`, fuse, and save the fused model."""
    import keras

    config.validate()
    started = time.perf_counter()
    registry = Registry(app_config.models_dir(config.models_dir))
    base, base_record = _base(config.base)
    name = config.name or f"{base.name}-handshape"
    registry.path(name)  # validates the name before any work
    try:
        split = splits.load(config.split)
    except splits.SplitError as exc:
        raise FuseError(str(exc)) from None
    folder = app_config.photos_dir(config.photos_dir)
    spec = base.spec.with_hand_shape()
    try:
        photos = load_photo_folder(folder, spec,
                                   sources=lambda source: split.role(source) != "held_out")
    except DataError as exc:
        raise FuseError(str(exc)) from None
    roles = np.array([split.role(s) for s in photos.sources or [""] * len(photos)])
    shapes = photos.handshape
    has_hand = shapes[:, 0] > 0
    train = (roles == "train") & has_hand
    val = roles == "validation"
    if train.sum() < len(CLASS_LETTERS) or not val.any():
        raise FuseError(f"{folder}: {int(train.sum())} training photos with landmarks and "
                        f"{int(val.sum())} validation photos under split {split.name}; run "
                        f"`signlive locate {folder}` first, and use the split's folder")

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    image_logits = np.log(np.clip(predict_probs(base.model, photos.x[val]), 1e-9, 1))
    branch = compiled_branch(config)
    x_train, y_train = shapes[train], photos.y[train]
    x_val, y_val = shapes[val], photos.y[val]
    val_hand = x_val[:, 0] > 0
    image_only = _accuracy(image_logits, y_val)
    history: list[dict] = []
    best: tuple[float, int, float] | None = None  # (val accuracy, epoch, weight)
    best_weights = None
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        fitted = branch.fit(augment(x_train, rng), y_train, batch_size=config.batch_size,
                            epochs=1, shuffle=True, verbose=0)
        shape_logits = np.asarray(branch.predict(x_val, batch_size=1024, verbose=0))
        scores = {w: _accuracy(image_logits + w * shape_logits, y_val) for w in config.weights}
        weight = max(scores, key=lambda w: (scores[w], -abs(w - 1.0)))
        row = {"epoch": epoch, "loss": float(fitted.history["loss"][-1]),
               "accuracy": float(fitted.history["accuracy"][-1]),
               "val_accuracy": scores[weight], "weight": weight,
               "val_hand_accuracy": _accuracy(shape_logits[val_hand], y_val[val_hand]),
               "seconds": round(time.perf_counter() - epoch_start, 2)}
        history.append(row)
        if best is None or scores[weight] > best[0]:
            best, best_weights = (scores[weight], epoch, weight), branch.get_weights()
        if progress is not None:
            progress({"type": "epoch", "epochs": config.epochs, **row})

    accuracy, best_epoch, weight = best
    # A fresh, uncompiled copy: the saved model carries no optimizer state.
    final = nets.build_handshape_branch(config.hidden, config.dropout)
    final.set_weights(best_weights)
    last = final.get_layer("handshape_logits")
    last.set_weights([w * weight for w in last.get_weights()])
    fused = nets.build_fused(base.model, final)
    metadata = {
        **{k: v for k, v in base.metadata.items() if k not in ("name", "history", "config")},
        **spec.to_metadata(),
        "arch": f"{base.metadata.get('arch', 'model')}+handshape",
        "params": int(fused.count_params()),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": device.describe(),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "base_model": base_record,
        "fusion": {
            "weight": weight,
            "best_epoch": best_epoch,
            "validation_accuracy": accuracy,
            "validation_image_only": image_only,
            "validation_n": int(val.sum()),
            "validation_with_hand": int(val_hand.sum()),
            "train_hands": int(train.sum()),
            "photos_sha256": photos.sha256,
            "split": split.name,
            "seconds": round(time.perf_counter() - started, 1),
            "config": {k: v for k, v in asdict(config).items()
                       if k not in ("base", "models_dir", "name", "photos_dir")},
        },
        "history": history,
        "epochs": len(history),
        "best_epoch": best_epoch,
    }
    model_path = registry.save(fused, name, metadata)
    if progress is not None:
        progress({"type": "end", "name": name, "val_accuracy": accuracy})
    return FuseResult(name=name, model_path=model_path, metadata=metadata)
