"""A training run's parameters from the admin API, checked strictly (types here, bounds by
TrainConfig's own checks), and described in words for the run list.
"""

from __future__ import annotations

import math
from typing import Any

from webapp.model.registry import Registry
from webapp.model.spec import ModelSpec, SpecError


class ParamError(ValueError):
    """A bad run parameter; `field` names it so the API and the form can point at it."""

    def __init__(self, field_name: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.status = status


_INT_FIELDS = ("epochs", "batch_size", "early_stopping", "input_size")
_CHOICE_FIELDS = ("train_on", "crop", "split")  # strings from a fixed list (TrainConfig's)
RUN_FIELDS = ("arch", "epochs", "batch_size", "learning_rate", "augment", "name",
              "early_stopping", "negatives", "train_on", "crop", "split", "input_size",
              "hand_shape")
FUSE_FIELDS = ("kind", "base", "epochs", "name")  # {"kind": "fuse"}: a branch on a model
FUSE_EPOCHS = 40  # what `signlive fuse` trains by default (FuseConfig.epochs)
MOTION_FIELDS = ("kind", "epochs", "name")  # {"kind": "motion"}: the J/Z motion reader
MOTION_EPOCHS = 30  # what models/motion.keras was trained with (docs/RESULTS.md)

# What the dashboard's form offers, the first being its default. "real-world" is the recipe of
# models/default.keras (docs/RESULTS.md): Sign MNIST + the photos, hand crop, 56 px, then the
# hand-shape branch (hand_shape: the run fuses it on when training ends). The others are the
# articles' networks on Sign MNIST alone, kept to reproduce them; they read real hands at
# about chance, which the models table's held-out column shows.
RECIPES: dict[str, dict[str, Any]] = {
    "real-world": {"label": "Real world: Sign MNIST + photos, hand crop, 56 px, hand shape",
                   "arch": "resnet", "epochs": 14, "train_on": "both", "crop": "hand",
                   "input_size": 56, "hand_shape": True},
    "article-cnn": {"label": "Article: simple CNN on Sign MNIST, 28 px", "arch": "cnn",
                    "epochs": 20, "train_on": "csv", "crop": "guide", "input_size": 28,
                    "negatives": 0.0, "hand_shape": False},
    "article-resnet50": {"label": "Article: ResNet-50 on Sign MNIST, 28 px",
                         "arch": "resnet50", "epochs": 8, "train_on": "csv", "crop": "guide",
                         "input_size": 28, "negatives": 0.0, "hand_shape": False},
}


def validate_params(body: object, *, allow_limit: bool = False, default_limit: int = 0,
                    models: Registry | None = None) -> dict:
    """The run parameters in `body` (a JSON object), checked; ParamError names the bad field.

    Types are checked strictly (true is not an integer, "5" is not a number); bounds and the
    architecture list are training.TrainConfig's own checks, so the form, the CLI and the API
    accept exactly the same runs. `limit` (train on the first N rows) exists for tests only.
    `{"kind": "fuse", "base": NAME}` asks for the hand-shape branch on model NAME of `models`
    (a hand-crop model), as `signlive fuse` trains it.
    """
    from webapp.train.training import ConfigError, TrainConfig  # deferred: it loads Keras

    if not isinstance(body, dict):
        raise ParamError("body", "expected a JSON object of run parameters")
    if body.get("kind", "train") == "fuse":
        return _fuse_params(body, models)
    if body.get("kind", "train") == "motion":
        return _motion_params(body)
    if body.get("kind", "train") != "train":
        raise ParamError("kind", "must be \"train\", \"fuse\" or \"motion\", "
                                 f"got {body.get('kind')!r}")
    body = {k: v for k, v in body.items() if k != "kind"}
    allowed = RUN_FIELDS + (("limit",) if allow_limit else ())
    for key in body:
        if key not in allowed:
            raise ParamError(str(key)[:64], f"unknown field; allowed: {', '.join(allowed)}")
    defaults = TrainConfig()
    params: dict[str, Any] = {}
    for key in ("arch", *_INT_FIELDS, "learning_rate", "augment", "negatives",
                *_CHOICE_FIELDS):
        params[key] = body.get(key, getattr(defaults, key))
    params["limit"] = body.get("limit", default_limit)
    for key in ("arch", *_CHOICE_FIELDS):
        if not isinstance(params[key], str):
            raise ParamError(key, f"must be a string, got {params[key]!r}")
    for key in (*_INT_FIELDS, "limit"):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(key, f"must be an integer, got {value!r}")
    lr = params["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
        raise ParamError("learning_rate", f"must be a number, got {lr!r}")
    params["learning_rate"] = float(lr)
    neg = params["negatives"]
    if isinstance(neg, bool) or not isinstance(neg, (int, float)) or not math.isfinite(neg):
        raise ParamError("negatives", f"must be a number, got {neg!r}")
    params["negatives"] = float(neg)
    if not isinstance(params["augment"], bool):
        raise ParamError("augment", f"must be true or false, got {params['augment']!r}")
    params["name"] = _name(body)
    try:
        TrainConfig(**params).validate()
    except ConfigError as exc:
        raise ParamError(exc.field, str(exc).split(": ", 1)[-1]) from None
    hand_shape = body.get("hand_shape", False)
    if not isinstance(hand_shape, bool):
        raise ParamError("hand_shape", f"must be true or false, got {hand_shape!r}")
    if hand_shape and (params["train_on"] == "csv" or params["crop"] != "hand"):
        raise ParamError("hand_shape", "the hand-shape branch reads the photos' landmarks: "
                                       "train on photos (or both) with the hand crop")
    if hand_shape:
        params["hand_shape"] = True
    if not params["limit"]:
        del params["limit"]
    return params


def image_model_name(name: str) -> str:
    """The image model a hand_shape run trains first and keeps beside the fused `name`."""
    return f"{name}-image"


def _name(body: dict) -> str | None:
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ParamError("name", f"must be a string, got {name!r}")
    return (name.strip() or None) if isinstance(name, str) else None


def _epochs(body: dict, default: int) -> int:
    epochs = body.get("epochs", default)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ParamError("epochs", f"must be an integer from 1 to 1000, got {epochs!r}")
    return epochs


def _motion_params(body: dict) -> dict:
    """A motion-reader run's parameters: epochs and a name (`signlive train-motion`'s)."""
    for key in body:
        if key not in MOTION_FIELDS:
            raise ParamError(str(key)[:64],
                             f"unknown field; allowed: {', '.join(MOTION_FIELDS)}")
    return {"kind": "motion", "epochs": _epochs(body, MOTION_EPOCHS), "name": _name(body),
            "arch": "motion-conv1d"}


def _fuse_params(body: dict, models: Registry | None) -> dict:
    """A fuse run's parameters: the base (a registered hand-crop model), epochs, a name."""
    for key in body:
        if key not in FUSE_FIELDS:
            raise ParamError(str(key)[:64], f"unknown field; allowed: {', '.join(FUSE_FIELDS)}")
    base = body.get("base")
    if not isinstance(base, str) or not base:
        raise ParamError("base", f"must name a model, got {base!r}")
    epochs = _epochs(body, FUSE_EPOCHS)
    if models is None or not models.exists(base):
        raise ParamError("base", f"no model named {base!r}", status=404)
    entry = next((m for m in models.list() if m["name"] == base), {})
    if "error" in entry:
        raise ParamError("base", f"model {base!r} cannot be read: {entry['error']}")
    try:
        spec = ModelSpec.from_metadata(entry)
    except SpecError as exc:
        raise ParamError("base", f"model {base!r}: {exc}") from None
    if not spec.reads_hand_box:
        raise ParamError("base", f"model {base!r} reads the guide square; the hand-shape "
                                 "branch needs a hand-crop model (its landmarks come with the "
                                 "hand box it crops around)")
    arch = str(entry.get("arch") or "model").removesuffix("+handshape")
    return {"kind": "fuse", "base": base, "epochs": epochs, "name": _name(body),
            "arch": f"{arch}+handshape"}


def describe_data(params: dict) -> str:
    """What a run trains on, in words: "Sign MNIST", "photos (hand crop, split photos-v1)",
    "Sign MNIST + photos (...)", "+ hand shape" when the branch follows, "hand shape on
    BASE" for a fuse run. Runs recorded before photo training trained on Sign MNIST."""
    if params.get("kind") == "fuse":
        return f"hand shape on {params.get('base')}"
    if params.get("kind") == "motion":
        return "landmark tracks (J, Z), split motion-v1"
    shape = " + hand shape" if params.get("hand_shape") else ""
    return _describe_images(params) + shape


def _describe_images(params: dict) -> str:
    train_on = params.get("train_on", "csv")
    if train_on == "csv":
        return "Sign MNIST"
    photos = f"photos ({params.get('crop', 'hand')} crop, split {params.get('split', '?')})"
    return photos if train_on == "photos" else f"Sign MNIST + {photos}"
