"""The model activated last, remembered in the instance folder so that a restart serves it.

Both the admin API (an activation) and the scale-out listener (another server's activation)
write it; the admin area restores it when an app starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from webapp.config import DEFAULT_MODEL_NAME

ACTIVE_MODEL_FILE = "active_model"


def remember(instance_path: str | os.PathLike, name: str) -> None:
    """Remember `name` as the served model (atomically: a reader sees the old or the new)."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{ACTIVE_MODEL_FILE}.tmp"
    temp.write_text(name + "\n", encoding="utf-8")
    os.replace(temp, folder / ACTIVE_MODEL_FILE)


def restore(app: Flask) -> None:
    """Serve the model the admin activated last, unless the operator named one explicitly."""

    path = Path(app.instance_path) / ACTIVE_MODEL_FILE
    ext = app.extensions["signlive"]
    if (not path.is_file() or os.environ.get("SIGNLIVE_MODEL")
            or app.config.get("ACTIVE_MODEL", DEFAULT_MODEL_NAME) != DEFAULT_MODEL_NAME):
        return
    name = path.read_text(encoding="utf-8").strip()
    if not name or name == ext.model_name:
        return
    try:
        ext.activate(name)
    except ValueError as exc:  # ModelError or a failed warm-up: keep what create_app loaded
        app.logger.error("the model activated last, %r, cannot be served (%s); serving %r",
                         name, exc, ext.model_name)
        return
    app.logger.info("serving %r, the model activated last (from %s)", name, path)
