"""Models on disk: `models/<name>.keras` + `.json`, saved atomically, validated on load.

A model exists for the registry only when its `.json` exists. Saving writes both files under
temporary names in the same folder, then renames them into place (.keras first, .json last), so
a crash at any point leaves either the previous model, or no listed model, never a half-written
file under a real name. Every problem with a model file becomes a `ModelError` with a message a
person can act on: the live server refuses such a file and keeps serving the one it has.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from webapp.model.handshape import FEATURES, FEATURES_VERSION
from webapp.model.letters import NUM_CLASSES
from webapp.model.spec import ModelSpec, SpecError
from webapp.model.track import TrackError, TrackSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TEMP_MARK = ".partial-"


class ModelError(ValueError):
    """A model name, file or metadata that cannot be used; the message says which and why."""


def check_name(name: object) -> str:
    """`name` if it is a safe model name (no path, no traversal), else ModelError."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):  # "x\n" too
        raise ModelError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if name.lower().endswith((".keras", ".json")) or ".." in name:
        raise ModelError(f"invalid model name {name!r}: no '..' and no .keras/.json ending")
    return name


@dataclass
class LoadedModel:
    """A validated model with its metadata, as the inference service and evaluation use it."""

    model: Any
    metadata: dict
    name: str
    path: Path
    spec: ModelSpec  # how it is fed: the only thing its users read for that


def _read_metadata(path: Path) -> dict:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model metadata ({exc})") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{path}: model metadata must be a JSON object")
    return metadata


def _open(path: Path) -> tuple[Any, dict]:
    """(the Keras model, its metadata or {}) of a `.keras` file; ModelError for anything else."""
    if path.suffix != ".keras":
        raise ModelError(f"{path}: a model file must end in .keras")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a Keras model file (not a .keras zip archive)")
    meta_path = path.with_suffix(".json")
    metadata = _read_metadata(meta_path) if meta_path.exists() else {}

    import keras  # deferred: listing models must not pay for importing Keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many kinds for a corrupt archive
        raise ModelError(f"{path}: the model does not load ({type(exc).__name__}: {exc})") from None
    return model, metadata


def _check_softmax(path: Path, model: Any, inputs: Any) -> None:
    probe = np.asarray(model(inputs, training=False))
    if not (np.all(np.isfinite(probe)) and np.all(probe >= 0)
            and np.all(np.abs(probe.sum(axis=-1) - 1) < 1e-3)):
        raise ModelError(f"{path}: the outputs are not softmax probabilities")


@dataclass
class LoadedMotion:
    """A validated motion reader (J, Z or neither from a landmark track) with its spec."""

    model: Any
    metadata: dict
    name: str
    path: Path
    spec: TrackSpec


def load_motion_file(path: str | os.PathLike) -> LoadedMotion:
    """Load and validate a motion reader: `<name>.keras` + its `.json` (which must say
    "kind": "motion"); the input is (steps, 42) and the output a softmax over none, J, Z."""
    path = Path(path)
    model, metadata = _open(path)
    try:
        spec = TrackSpec.from_metadata(metadata)
    except TrackError as exc:
        raise ModelError(f"{path}: {exc}") from None
    if tuple(model.input_shape) != (None, *spec.shape):
        raise ModelError(f"{path}: input shape {model.input_shape} is not (None, "
                         f"{spec.shape[0]}, {spec.shape[1]}): a track of {spec.steps} steps")
    if tuple(model.output_shape) != (None, len(spec.answers)):
        raise ModelError(f"{path}: output shape {model.output_shape} is not (None, "
                         f"{len(spec.answers)}): none, {', '.join(spec.letters)}")
    _check_softmax(path, model, np.zeros((1, *spec.shape), "float32"))
    name = metadata.get("name") or path.stem
    return LoadedMotion(model=model, metadata=metadata, name=name, path=path, spec=spec)


def load_model_file(path: str | os.PathLike) -> LoadedModel:
    """Load and validate `<name>.keras` (+ `<name>.json` beside it, when there is one).

    Checks: the file is a Keras zip that loads without custom objects, the output is a softmax
    over 24 letters, and the input is (S, S, 1) with S = metadata["input_size"]. Without a .json
    (a model file from elsewhere) the metadata is derived from the model itself.
    """
    path = Path(path)
    model, metadata = _open(path)
    if metadata.get("kind") == "motion":
        raise ModelError(f"{path}: a motion reader (J and Z), not a letter model")

    # deferred: it loads Keras
    from webapp.model.nets import image_input_shape, model_inputs, reads_handshape

    names = sorted(tensor.name for tensor in model.inputs)
    if len(names) > 1 and names != ["handshape", "image"]:
        raise ModelError(f"{path}: the model has {len(names)} inputs ({', '.join(names)}); "
                         "expected one image, or an image and hand-shape features")
    if reads_handshape(model):
        shape_input = next(t for t in model.inputs if t.name == "handshape")
        if tuple(shape_input.shape) != (None, FEATURES):
            raise ModelError(f"{path}: hand-shape input {tuple(shape_input.shape)} is not "
                             f"(None, {FEATURES})")
        declared_shape = metadata.setdefault("handshape", FEATURES_VERSION)
        if declared_shape != FEATURES_VERSION:
            raise ModelError(f"{path}: hand-shape features {declared_shape!r} are not this "
                             f"version's ({FEATURES_VERSION})")
    elif metadata.get("handshape") is not None:
        raise ModelError(f"{path}: metadata says it reads the hand shape, the model has no "
                         "handshape input")
    input_shape = image_input_shape(model)
    if len(input_shape) != 4 or input_shape[3] != 1 or input_shape[1] != input_shape[2]:
        raise ModelError(f"{path}: input shape {input_shape} is not (None, S, S, 1)")
    size = input_shape[1]
    declared = metadata.setdefault("input_size", size)
    if declared != size:
        raise ModelError(
            f"{path}: input shape {input_shape[1:]} does not match metadata input_size {declared}"
        )
    try:
        spec = ModelSpec.from_metadata(metadata)
    except SpecError as exc:
        raise ModelError(f"{path}: metadata {exc}") from None
    if tuple(model.output_shape) != (None, NUM_CLASSES):
        raise ModelError(
            f"{path}: output shape {model.output_shape} is not (None, {NUM_CLASSES}): "
            "the classifier must have one output per letter"
        )
    _check_softmax(path, model, model_inputs(model, np.zeros((1, size, size, 1), "float32")))
    name = metadata.get("name") or path.stem
    metadata.setdefault("name", name)
    return LoadedModel(model=model, metadata=metadata, name=name, path=path, spec=spec)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Registry:
    """The models folder: list, save atomically, load with validation, delete."""

    def __init__(self, models_dir: str | os.PathLike) -> None:
        self.models_dir = Path(models_dir)

    def path(self, name: str) -> Path:
        """The `.keras` path of model `name` (validated: it can never leave the folder)."""
        return self.models_dir / f"{check_name(name)}.keras"

    def _meta_path(self, name: str) -> Path:
        return self.models_dir / f"{check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self._meta_path(name).is_file() and self.path(name).is_file()

    def list(self) -> list[dict]:
        """Every registered model, sorted by name: its metadata + name, size (bytes), created.

        An entry whose metadata cannot be read is listed with an "error" key instead of its
        metadata, so that it can be seen and deleted.
        """
        if not self.models_dir.is_dir():
            return []
        entries = []
        for meta_path in sorted(self.models_dir.glob("*.json")):
            name = meta_path.stem
            model_path = meta_path.with_suffix(".keras")
            if name.startswith(".") or not _NAME_RE.match(name) or not model_path.is_file():
                continue
            stat = model_path.stat()
            try:
                entry = dict(_read_metadata(meta_path))
            except ModelError as exc:
                entry = {"error": str(exc)}
            entry.update(
                name=name,
                size=stat.st_size,
                created=datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(
                    timespec="seconds"),
            )
            entries.append(entry)
        return entries

    def load(self, name: str) -> LoadedModel:
        """Load and validate a registered model (ModelError when missing or invalid)."""
        if not self.exists(name):
            raise ModelError(f"model {name!r} not found in {self.models_dir}")
        loaded = load_model_file(self.path(name))
        loaded.name = name
        return loaded

    def save(self, model: Any, name: str, metadata: dict) -> Path:
        """Write `model` and `metadata` as model `name`, atomically; returns the .keras path.

        Both files are written completely under temporary names first. The old .json is moved
        aside before the new .keras takes its place, so no moment pairs a new model with old
        metadata; if that rename fails, the old .json comes back and the old model stays.
        """
        final_model = self.path(name)
        final_meta = self._meta_path(name)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        metadata = dict(metadata, name=name)
        json.dumps(metadata, allow_nan=False)  # unwritable metadata fails before any file
        temps: list[Path] = []
        try:
            tmp_model = self._temp_path(name, ".keras", temps)
            model.save(tmp_model)
            self._fsync_file(tmp_model)
            tmp_meta = self._temp_json(name, metadata, temps)
            backup = None
            if final_meta.exists():  # unlist the old model while its file is replaced
                backup = self._temp_path(name, ".json", temps)
                os.replace(final_meta, backup)
            try:
                os.replace(tmp_model, final_model)
            except BaseException:
                if backup is not None:  # the old model file is untouched: list it again
                    os.replace(backup, final_meta)
                raise
            os.replace(tmp_meta, final_meta)
            _fsync_dir(self.models_dir)
        finally:
            for temp in temps:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        return final_model

    def record(self, name: str, **fields: Any) -> None:
        """Add `fields` to model `name`'s metadata (figures measured after it was saved); the
        .json is replaced whole, atomically, so a reader sees the old one or the new one."""
        if not self.exists(name):
            raise ModelError(f"model {name!r} not found in {self.models_dir}")
        metadata = {**_read_metadata(self._meta_path(name)), **fields}
        temps: list[Path] = []
        try:
            os.replace(self._temp_json(name, metadata, temps), self._meta_path(name))
            _fsync_dir(self.models_dir)
        finally:
            for temp in temps:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()

    def delete(self, name: str) -> None:
        """Remove model `name` (metadata first, so it stops being listed at once)."""
        if not self.exists(name):
            raise ModelError(f"model {name!r} not found in {self.models_dir}")
        self._meta_path(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()

    def _temp_path(self, name: str, suffix: str, temps: list[Path]) -> Path:
        # Hidden, in the same folder (so os.replace is a rename on one file system), and ending
        # in the real suffix because Keras insists on ".keras". Matches .gitignore's *.partial*.
        fd, raw = tempfile.mkstemp(prefix=f".{name}{_TEMP_MARK}", suffix=suffix,
                                   dir=self.models_dir)
        os.close(fd)
        temps.append(Path(raw))
        os.chmod(raw, 0o644)  # not mkstemp's 0600: a server may run as another user
        return Path(raw)

    def _temp_json(self, name: str, metadata: dict, temps: list[Path]) -> Path:
        """`metadata` written and synced under a temporary name beside the model's .json."""
        text = json.dumps(metadata, indent=2, sort_keys=True, allow_nan=False)
        temp = self._temp_path(name, ".json", temps)
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    @staticmethod
    def _fsync_file(path: Path) -> None:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
