"""Defaults, overridable by `SIGNLIVE_*` environment variables (and by create_app's test_config)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = (PROJECT_ROOT.parent / "shared" / "data").resolve()
DEFAULT_PHOTOS_DIR = (PROJECT_ROOT.parent / "shared" / "photos").resolve()
DEFAULT_MOTION_DIR = (PROJECT_ROOT.parent / "shared" / "motion").resolve()
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_NAME = "default"
# How long the stream decoder needs a letter read steadily to spell it (webapp/serve/decoder.py,
# chosen on validation recordings: docs/RESULTS.md); SIGNLIVE_STABLE_MS overrides it.
DEFAULT_SETTLE_MS = 150


def _folder(override: str | os.PathLike | None, variable: str, default: Path) -> Path:
    """An explicit override, else the environment variable, else the default."""
    return Path(override) if override else Path(os.environ.get(variable) or default)


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder: an explicit override, else SIGNLIVE_DATA, else ../shared/data."""
    return _folder(override, "SIGNLIVE_DATA", DEFAULT_DATA_DIR)


def photos_dir(override: str | os.PathLike | None = None) -> Path:
    """The photo folder: an explicit override, else SIGNLIVE_PHOTOS, else ../shared/photos."""
    return _folder(override, "SIGNLIVE_PHOTOS", DEFAULT_PHOTOS_DIR)


def motion_dir(override: str | os.PathLike | None = None) -> Path:
    """The landmark tracks: an explicit override, else SIGNLIVE_MOTION, else ../shared/motion."""
    return _folder(override, "SIGNLIVE_MOTION", DEFAULT_MOTION_DIR)


def models_dir(override: str | os.PathLike | None = None) -> Path:
    """The models folder: an explicit override, else SIGNLIVE_MODELS, else models/."""
    return _folder(override, "SIGNLIVE_MODELS", DEFAULT_MODELS_DIR)


def _env_number(name: str, default: float, kind: type, low: float, high: float) -> float:
    """An environment override parsed as `kind` (int or float), refused outside [low, high]."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        noun = "an integer" if kind is int else "a number"
        raise ValueError(f"{name}={raw!r} is not {noun}") from exc
    if not low <= value <= high:
        raise ValueError(f"{name}={raw!r} is outside {low}-{high}")
    return value


def _env_float(name: str, default: float, low: float = 0.0, high: float = 1e9) -> float:
    return _env_number(name, default, float, low, high)


def _env_int(name: str, default: int, low: int = 0, high: int = 2**31) -> int:
    return _env_number(name, default, int, low, high)


def from_environment() -> dict:
    """The app settings with SIGNLIVE_* overrides applied; read once by create_app."""
    return {
        "SECRET_KEY": os.environ.get("SIGNLIVE_SECRET_KEY", "dev"),
        "DATA_DIR": str(data_dir()),
        "PHOTOS_DIR": str(photos_dir()),  # <LETTER>/<source>_<n>.jpg photos for training runs
        "MODELS_DIR": str(models_dir()),
        "ACTIVE_MODEL": os.environ.get("SIGNLIVE_MODEL", DEFAULT_MODEL_NAME),
        "CONFIDENCE_THRESHOLD": _env_float("SIGNLIVE_CONFIDENCE_THRESHOLD", 0.6, 0.0, 1.0),
        "MAX_BATCH": _env_int("SIGNLIVE_MAX_BATCH", 32),
        "BATCH_WAIT_MS": _env_float("SIGNLIVE_BATCH_WAIT_MS", 2.0),
        "MAX_FRAME_BYTES": _env_int("SIGNLIVE_MAX_FRAME_BYTES", 2 * 1024 * 1024),
        "CORS_ORIGINS": os.environ.get("SIGNLIVE_CORS_ORIGINS", ""),
        "MESSAGE_QUEUE": os.environ.get("SIGNLIVE_MESSAGE_QUEUE", ""),
        "ADMIN_PASSWORD": os.environ.get("SIGNLIVE_ADMIN_PASSWORD", ""),
        # What the live and kiosk pages do (webapp/serve/pages.py hands these to the browser):
        "STABLE_MS": _env_int("SIGNLIVE_STABLE_MS", DEFAULT_SETTLE_MS, 50, 10_000),
        "SUGGESTIONS": _env_int("SIGNLIVE_SUGGESTIONS", 1, 0, 1),  # 1: word suggestions
        # The motion reader (J, Z) in the models folder; empty: none (static letters only).
        "MOTION_MODEL": os.environ.get("SIGNLIVE_MOTION_MODEL", "motion").strip(),
        "FPS_CAP": _env_int("SIGNLIVE_FPS_CAP", 15, 1, 60),  # frames a second sent at most
        "IDLE_CLEAR_S": _env_int("SIGNLIVE_IDLE_CLEAR_S", 30, 1, 86_400),  # kiosk idle clear
        "MAX_SIDE": _env_int("SIGNLIVE_MAX_SIDE", 480, 224, 1920),  # frame downscale, long side
        # 1: the pages find the hand (MediaPipe Hands) and send its box with each frame; 0: off
        "HAND_LOCATOR": _env_int("SIGNLIVE_HAND_LOCATOR", 1, 0, 1),
        # 1: the pages find the hand in the next frame while the server reads the last; 0: in turn
        "OVERLAP": _env_int("SIGNLIVE_OVERLAP", 1, 0, 1),
    }
