"""Defaults, overridable by `SIGNLIVE_*` environment variables (and by create_app's test_config)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = (PROJECT_ROOT.parent / "shared" / "data").resolve()
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_NAME = "default"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder: an explicit override, else SIGNLIVE_DATA, else ../shared/data."""
    if override:
        return Path(override)
    return Path(os.environ.get("SIGNLIVE_DATA") or DEFAULT_DATA_DIR)


def models_dir(override: str | os.PathLike | None = None) -> Path:
    """The models folder: an explicit override, else SIGNLIVE_MODELS, else models/."""
    if override:
        return Path(override)
    return Path(os.environ.get("SIGNLIVE_MODELS") or DEFAULT_MODELS_DIR)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number") from exc


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an integer") from exc


def from_environment() -> dict:
    """The app settings with SIGNLIVE_* overrides applied; read once by create_app."""
    return {
        "SECRET_KEY": os.environ.get("SIGNLIVE_SECRET_KEY", "dev"),
        "DATA_DIR": str(data_dir()),
        "MODELS_DIR": str(models_dir()),
        "ACTIVE_MODEL": os.environ.get("SIGNLIVE_MODEL", DEFAULT_MODEL_NAME),
        "CONFIDENCE_THRESHOLD": _env_float("SIGNLIVE_CONFIDENCE_THRESHOLD", 0.6),
        "MAX_BATCH": _env_int("SIGNLIVE_MAX_BATCH", 32),
        "BATCH_WAIT_MS": _env_float("SIGNLIVE_BATCH_WAIT_MS", 2.0),
        "MAX_FRAME_BYTES": _env_int("SIGNLIVE_MAX_FRAME_BYTES", 2 * 1024 * 1024),
        "CORS_ORIGINS": os.environ.get("SIGNLIVE_CORS_ORIGINS", ""),
        "MESSAGE_QUEUE": os.environ.get("SIGNLIVE_MESSAGE_QUEUE", ""),
        "ADMIN_PASSWORD": os.environ.get("SIGNLIVE_ADMIN_PASSWORD", ""),
    }
