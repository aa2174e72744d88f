"""The admin area: login/logout, the dashboard page, the /admin Socket.IO namespace.

`init_app(app)` wires everything the admin needs into an app made by create_app (call it once
app.extensions["signlive"] exists): auth (secret key, password hash, limiter), the dashboard and API
blueprints, the job manager (which marks runs a previous server left running as interrupted),
the photo folder's status (webapp/admin/photostatus.py), the /admin namespace that relays training
progress, and the model the admin last activated.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import socketio as socketio_lib
from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from socketio.exceptions import ConnectionRefusedError

from webapp.admin import api, auth, jobs, photostatus, runparams, runstore
from webapp.admin.events import NAMESPACE, install
from webapp.model.preprocess import CROPS
from webapp.serve import activation
from webapp.train import splits

log = logging.getLogger(__name__)

RUNS_DB = "runs.db"

bp = Blueprint("admin", __name__)


class AdminNamespace(socketio_lib.Namespace):
    """Progress for admin pages only: a connection without an admin session is refused.

    A plain python-socketio Namespace on the app's own server (as /live is): it reads the
    Flask session from the connect request's cookie itself.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__(NAMESPACE)
        self.app = app

    def on_connect(self, sid: str, environ: dict, auth_data: Any = None) -> None:
        with self.app.request_context(environ):
            if not auth.is_admin():
                raise ConnectionRefusedError("admin login required")

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        return None


# --- pages ----------------------------------------------------------------------------------

def _form_csrf_ok() -> bool:
    return auth.csrf_valid(request.form.get("csrf_token"))


@bp.get("/admin")
def dashboard():
    if not auth.is_admin():
        return redirect(url_for("admin.login"))
    from webapp.model import nets  # deferred: it loads Keras
    from webapp.train.training import TRAIN_ON, TrainConfig  # deferred: it loads Keras

    config = TrainConfig()
    base = {key: getattr(config, key) for key in
            ("arch", "epochs", "batch_size", "learning_rate", "augment", "early_stopping",
             "negatives", "train_on", "crop", "split", "input_size")}
    # Each recipe fills the whole form; the first, the real-world one, is its default.
    # A list: the page's JSON has its keys sorted, and the order is the form's.
    recipes = [{"key": key, **base, "hand_shape": False, **recipe}
               for key, recipe in runparams.RECIPES.items()]
    allow_limit = bool(current_app.testing or current_app.config.get("ALLOW_TRAIN_LIMIT"))
    admin_config = {
        "namespace": NAMESPACE,
        "archs": list(nets.ARCHS),
        "train_on": list(TRAIN_ON),
        "crops": list(CROPS),
        "splits": splits.available(),
        "recipes": recipes,
        "defaults": recipes[0],
        "fuse_epochs": runparams.FUSE_EPOCHS,
        "motion_epochs": runparams.MOTION_EPOCHS,
        "allow_limit": allow_limit,
        "train_limit": int(current_app.config.get("TRAIN_LIMIT") or 0),
    }
    return render_template("admin.html", csrf_token=auth.csrf_token(),
                           admin_config=admin_config, page_config={})


def _login_page(error: str | None = None, status: int = 200, headers: dict | None = None):
    page = render_template("login.html", csrf_token=auth.csrf_token(), page_config={},
                           error=error)
    return page, status, headers or {}


@bp.route("/admin/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if auth.is_admin():
            return redirect(url_for("admin.dashboard"))
        return _login_page()

    state = auth.state()
    address = request.remote_addr or "unknown"
    wait = state.limiter.retry_after(address)
    if wait:
        return _login_page(f"Too many failed logins. Try again in {wait} s.", 429,
                           {"Retry-After": str(wait)})
    if not _form_csrf_ok():
        return _login_page("The form expired. Please try again.", 400)
    if state.check_password(request.form.get("password")):
        state.limiter.succeeded(address)
        auth.log_in()
        log.info("admin login from %s", address)
        return redirect(url_for("admin.dashboard"))
    time.sleep(state.fail_delay_s)  # slows guessing even below the limit
    state.limiter.failed(address)
    log.warning("failed admin login from %s", address)
    return _login_page("Wrong password.", 401)


@bp.post("/admin/logout")
def logout():
    if auth.is_admin() and not _form_csrf_ok():
        return redirect(url_for("admin.dashboard"))
    auth.log_out()
    session.modified = True
    return redirect(url_for("admin.login"))


# --- wiring ---------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Add the admin area to `app` (see the module doc)."""
    auth.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(api.bp)
    emit = install(app)
    store = runstore.RunStore(Path(app.instance_path) / RUNS_DB)
    app.extensions[api.JOBS_EXTENSION] = jobs.JobManager(
        store, models_dir=app.config["MODELS_DIR"], data_dir=app.config["DATA_DIR"],
        photos_dir=app.config["PHOTOS_DIR"], emit=emit,
        cancel_grace_s=float(app.config.get("CANCEL_GRACE_S", 5.0)))
    app.extensions[api.PHOTOS_EXTENSION] = photostatus.PhotoFolderStatus(app.config["PHOTOS_DIR"])
    app.extensions["signlive"].server.register_namespace(AdminNamespace(app))
    activation.restore(app)
