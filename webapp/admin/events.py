"""The admin pages' live events: one emitter per app, to every page on the /admin namespace.

Its own module because both the admin area (webapp/admin/dashboard.py: the namespace, the job relay)
and the admin API (webapp/admin/api.py: a model activated) emit, and admin.py imports api.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app

log = logging.getLogger(__name__)

NAMESPACE = "/admin"
EMIT_EXTENSION = "signlive.admin_emit"


def install(app: Flask) -> Callable[[str, dict], None]:
    """Make and keep `app`'s emitter: emit(event, payload) to every admin page connected to
    the app's own Socket.IO server (thread-safe; the job relay calls it from its thread)."""
    server = app.extensions["signlive"].server

    def emit(event: str, payload: dict) -> None:
        try:
            server.emit(event, payload, namespace=NAMESPACE)
        except Exception:  # a relay must never die because a client went away
            log.exception("could not emit %s to %s", event, NAMESPACE)

    app.extensions[EMIT_EXTENSION] = emit
    return emit


def emit_admin(event: str, payload: dict) -> None:
    """emit() for the current app (from a request)."""
    current_app.extensions[EMIT_EXTENSION](event, payload)
