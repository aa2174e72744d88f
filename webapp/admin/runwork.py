"""What an admin run's process does: train (then, for the real-world recipe, fuse the
hand-shape branch onto the image model), fuse a registered model, or train the motion reader
(J, Z; scored on its own held-out people); then, for a letter model, score the model on
the split's held-out photo sources and keep that figure in its metadata, where the models
table reads it first.

Imported only in the run's own process (it loads Keras and the data); webapp/admin/jobs.py
starts that process and relays what `send` sends.
"""

from __future__ import annotations

from collections.abc import Callable

from webapp import config as app_config
from webapp.admin.runparams import image_model_name
from webapp.files import DataError
from webapp.model.registry import Registry
from webapp.train import evaluation, splits
from webapp.train.fusion import FuseConfig, fuse
from webapp.train.motion import MotionConfig, train_motion
from webapp.train.training import TrainConfig, TrainingCancelled, train

Send = Callable[[dict], None]
ShouldStop = Callable[[], bool]


def run(params: dict, send: Send, should_stop: ShouldStop) -> tuple[str, dict]:
    """Do the run `params` describes; (the registered model's name, its metadata)."""
    registry = Registry(app_config.models_dir(params.get("models_dir")))
    if params.get("kind") == "motion":  # its held-out people are scored in its metadata
        metadata = train_motion(MotionConfig(models_dir=params.get("models_dir"),
                                             name=params["name"], epochs=params["epochs"]),
                                progress=lambda line: send({"type": "log", "message": line}))
        return params["name"], metadata
    if params.get("kind") == "fuse":
        name, metadata = _fuse(params, str(registry.path(params["base"])), params["name"],
                               splits.DEFAULT_SPLIT, send, chart=True)
        split = splits.DEFAULT_SPLIT
    else:
        config = {k: v for k, v in params.items() if k not in ("kind", "hand_shape")}
        split = config.get("split", splits.DEFAULT_SPLIT)
        if params.get("hand_shape"):
            image = train(TrainConfig(**{**config, "name": image_model_name(params["name"])}),
                          progress=send, should_stop=should_stop)
            if should_stop():
                raise TrainingCancelled("training cancelled")
            send({"type": "log", "message": f"image model {image.name} trained; now the "
                                            "hand-shape branch on the photos' landmarks"})
            name, metadata = _fuse(params, str(image.model_path), params["name"], split, send,
                                   chart=False)
        else:
            result = train(TrainConfig(**config), progress=send, should_stop=should_stop)
            name, metadata = result.name, result.metadata
    if should_stop():
        raise TrainingCancelled("training cancelled")
    held_out = _score_held_out(registry, name, params.get("photos_dir"), split, send)
    if held_out is not None:
        metadata = {**metadata, "held_out": held_out}
    return name, metadata


def _fuse(params: dict, base: str, name: str, split: str, send: Send,
          chart: bool) -> tuple[str, dict]:
    """The hand-shape branch on `base`, as `signlive fuse` trains it. Its epochs are the run's
    chart for a fuse run (`chart`), and log lines after an image model's own epochs."""
    def progress(event: dict) -> None:
        if chart or event.get("type") != "epoch":
            send(event)
            return
        send({"type": "log", "message": (
            f"hand shape epoch {event['epoch']}/{event['epochs']}: validation accuracy "
            f"{event['val_accuracy']:.4f} (branch weight {event['weight']:g})")})

    config = FuseConfig(base=base, name=name, photos_dir=params.get("photos_dir"), split=split,
                        epochs=params.get("epochs", FuseConfig.epochs) if chart
                        else FuseConfig.epochs, models_dir=params.get("models_dir"))
    result = fuse(config, progress=progress)  # a FuseError is the run's error message
    return result.name, result.metadata


def _score_held_out(registry: Registry, name: str, photos_dir: str | None, split: str,
                    send: Send) -> dict | None:
    """The model on the split's held-out photo sources, kept in its metadata (recorded, never
    used to choose anything); None, said in the log, where they cannot be read here."""
    send({"type": "log", "message": f"scoring {name} on the held-out photo sources of {split}"})
    try:
        entry = evaluation.score_held_out(registry.load(name),
                                          app_config.photos_dir(photos_dir), splits.load(split))
    except (DataError, splits.SplitError) as exc:
        send({"type": "log", "message": f"held-out photos not scored: {exc}"})
        return None
    registry.record(name, held_out=entry)
    send({"type": "log", "message": f"held-out photos ({entry['n']:,}): accuracy "
                                    f"{entry['accuracy']:.4f}"})
    return entry
