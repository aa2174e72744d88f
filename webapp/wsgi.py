"""The production entry point: `gunicorn -w 1 --threads 64 -k gthread 'webapp.wsgi:app'`.

One worker process (Socket.IO sessions live in its memory; see docs/DEPLOY.md for scaling out),
many threads (each WebSocket client holds one). A model that cannot be served stops the worker
with gunicorn's boot-error status, so gunicorn exits instead of restarting it in a loop.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

from webapp import create_app  # noqa: E402
from webapp.model.registry import ModelError  # noqa: E402
from webapp.security import require_production_settings  # noqa: E402

log = logging.getLogger("signlive")
WORKER_BOOT_ERROR = 3  # gunicorn halts (does not respawn) on this exit status

try:
    app = create_app()
    # No placeholder SECRET_KEY, no debug mode in production.
    require_production_settings(app)
except (ModelError, ValueError) as exc:
    log.critical("signlive cannot start: %s", exc)
    sys.exit(WORKER_BOOT_ERROR)

state = app.extensions["signlive"]
log.info("signlive (gunicorn) model=%s device=%s", state.model_name, state.device)
