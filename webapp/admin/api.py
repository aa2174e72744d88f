"""The admin JSON API under /api/: training runs, models, the data set.

Every route needs an admin session (401 JSON without one) and every mutating route the
session's CSRF token in the X-CSRFToken header (403 without it). Every error, including a
malformed or oversized body and an unknown route, is JSON {"error": message[, "field"]}:
the dashboard shows the message as it is, and nothing else changes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.admin import auth, jobs, runparams
from webapp.admin.auth import api_error
from webapp.admin.events import emit_admin
from webapp.model.registry import ModelError, Registry, check_name
from webapp.serve import activation
from webapp.train import signmnist

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_BODY_BYTES = 64 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
JOBS_EXTENSION = "signlive.jobs"
PHOTOS_EXTENSION = "signlive.photos"
PROTECTED_MODELS = ("default",)
_activate_lock = threading.Lock()

# Model metadata the models table shows (the rest -- history, confusion -- stays on disk).
MODEL_FIELDS = ("name", "kind", "arch", "held_out", "held_out_people", "test_accuracy",
                "test_data", "size", "created", "trained_at", "epochs", "params", "input_size",
                "crop", "handshape", "device", "training_seconds", "error")


class ApiError(Exception):
    """Raised by a view to answer `status` with {"error": message, ...extra}."""

    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return api_error(exc.status, str(exc), **exc.extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 413:
        return api_error(413, f"request body too large (the limit is {MAX_BODY_BYTES} bytes)")
    return api_error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("admin API error on %s %s", request.method, request.path)
    return api_error(500, "internal error; see the server log")


@bp.before_request
def _guard():
    """Session, then CSRF, then a small body limit: in that order for every /api/ request."""
    if not auth.is_admin():
        return api_error(401, "admin login required")
    if request.method not in SAFE_METHODS and not auth.csrf_valid(
            request.headers.get(auth.CSRF_HEADER)):
        return api_error(403, f"missing or wrong CSRF token (send the {auth.CSRF_HEADER} "
                              "header from the admin page)")
    request.max_content_length = MAX_BODY_BYTES
    return None


def _json_body(required: bool = True) -> dict:
    """The request's JSON object; ApiError 400/413 for anything else."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_BODY_BYTES
    if not raw.strip():
        if required:
            raise ApiError(400, "expected a JSON object in the request body")
        return {}
    if not request.mimetype or request.mimetype != "application/json":
        raise ApiError(400, "send the body as JSON with Content-Type: application/json")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object in the request body")
    return body


def _signlive():
    return current_app.extensions["signlive"]


def registry() -> Registry:
    return _signlive().registry


def job_manager() -> jobs.JobManager:
    return current_app.extensions[JOBS_EXTENSION]


def photo_status():
    return current_app.extensions[PHOTOS_EXTENSION]


def active_model_name() -> str:
    return _signlive().model_name


def _safe_message(exc: Exception) -> str:
    """The message without the server's absolute models path (the admin knows the folder)."""
    text = str(exc)
    folder = str(Path(current_app.config["MODELS_DIR"]).resolve())
    for prefix in (folder + os.sep, str(current_app.config["MODELS_DIR"]) + os.sep):
        text = text.replace(prefix, "")
    return text


def _model_name(name: str) -> str:
    try:
        return check_name(name)
    except ModelError as exc:
        raise ApiError(400, str(exc), field="name") from None


# --- runs -----------------------------------------------------------------------------------

def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", field=name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be from {low} to {high}", field=name)
    return value


def _with_data_description(run: dict) -> dict:
    """Adds `trained_on`: what the run trained on, in words (runparams.describe_data)."""
    run["trained_on"] = runparams.describe_data(run.get("params") or {})
    return run


@bp.get("/runs")
def list_runs():
    store = job_manager().store
    runs = store.list(limit=_int_arg("limit", 100, 1, 1000),
                      offset=_int_arg("offset", 0, 0, 10**9))
    for run in runs:
        _with_data_description(run)
    current = job_manager().current()
    return jsonify(runs=runs, total=store.count(),
                   active=current.run_id if current is not None else None)


@bp.post("/runs")
def start_run():
    config = current_app.config
    try:
        params = runparams.validate_params(
            _json_body(),
            allow_limit=bool(current_app.testing or config.get("ALLOW_TRAIN_LIMIT")),
            default_limit=int(config.get("TRAIN_LIMIT") or 0), models=registry())
    except runparams.ParamError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from None

    train_on = {"fuse": "photos", "motion": None}.get(params.get("kind"), params.get("train_on"))
    if train_on in ("csv", "both"):  # Sign MNIST is read
        summary = signmnist.summary(config["DATA_DIR"])
        if not summary.get("ok"):
            raise ApiError(400, f"data: {summary.get('message') or 'the data set is missing'}",
                           field="data")
    if train_on in ("photos", "both"):  # the photo folder is read (its boxes are the run's check)
        photos = photo_status().summary(boxes=False)
        if not photos["ok"]:
            raise ApiError(400, f"photos: {photos['message']}", field="photos")
    try:
        run_id = job_manager().start(params)
    except jobs.Busy as exc:
        raise ApiError(409, str(exc), running=exc.run_id) from None
    except runparams.ParamError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from None
    run = job_manager().store.get(run_id)
    return jsonify(id=run_id, name=run["name"] if run else None, status="running"), 202


def _run_or_404(run_id: int) -> dict:
    run = job_manager().store.get(run_id)
    if run is None:
        raise ApiError(404, f"no run {run_id}")
    return run


@bp.get("/runs/<int:run_id>")
def get_run(run_id: int):
    run = _with_data_description(_run_or_404(run_id))
    run["live"] = job_manager().live_state(run_id)
    return jsonify(run)


@bp.post("/runs/<int:run_id>/cancel")
def cancel_run(run_id: int):
    run = _run_or_404(run_id)
    if not job_manager().cancel(run_id):
        raise ApiError(409, f"run {run_id} is not in progress (it is {run['status']})")
    return jsonify(id=run_id, status="cancelling"), 202


# --- models ---------------------------------------------------------------------------------

@bp.get("/models")
def list_models():
    active = active_model_name()
    models = []
    for entry in registry().list():
        row = {key: entry.get(key) for key in MODEL_FIELDS}
        # Sign MNIST beside the held-out photos: the test figure when the test was its CSV
        # (a photo-only run tests on its validation sources instead).
        row["sign_mnist"] = (entry.get("test_accuracy")
                             if "sign_mnist_test" in str(entry.get("test_data") or "") else None)
        row["active"] = entry.get("name") == active
        row["protected"] = entry.get("name") in PROTECTED_MODELS
        models.append(row)
    return jsonify(models=models, active=active)


@bp.post("/models/<name>/activate")
def activate_model(name: str):
    name = _model_name(name)
    _json_body(required=False)
    models = registry()
    if not models.exists(name):
        raise ApiError(404, f"no model named {name!r}")
    with _activate_lock:
        previous = active_model_name()
        try:
            _signlive().activate(name)  # loads and validates before anything changes
        except ValueError as exc:  # ModelError, or a model that fails its warm-up
            raise ApiError(422, f"model {name!r} was refused, {previous!r} keeps serving: "
                                f"{_safe_message(exc)}") from None
        activation.remember(current_app.instance_path, name)
    log.info("admin activated model %s (was %s)", name, previous)
    emit_admin("model_activated", {"name": name, "previous": previous})
    return jsonify(active=name, previous=previous)


@bp.delete("/models/<name>")
def delete_model(name: str):
    name = _model_name(name)
    if name in PROTECTED_MODELS:
        raise ApiError(409, f"{name!r} is the shipped model and cannot be deleted")
    if name == active_model_name():
        raise ApiError(409, f"{name!r} is the active model: activate another one first")
    models = registry()
    if not models.exists(name):
        raise ApiError(404, f"no model named {name!r}")
    try:
        models.delete(name)
    except (ModelError, OSError) as exc:
        raise ApiError(500, f"could not delete {name!r}: {_safe_message(exc)}") from None
    log.info("admin deleted model %s", name)
    return jsonify(deleted=name)


# --- data -----------------------------------------------------------------------------------

@bp.get("/data")
def data_summary():
    """The Sign MNIST status, with the photo folder's under `photos` (counts at once; the
    hand-box coverage from a background pass, `boxes_pending` until it is done)."""

    return jsonify({**signmnist.summary(current_app.config["DATA_DIR"]),
                    "photos": photo_status().summary()})


# --- everything else under /api/ ------------------------------------------------------------

@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    """A JSON 404/405 (after the same session and CSRF checks) instead of an HTML page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            return api_error(405, f"{request.method} is not allowed on {request.path}")
    return api_error(404, f"no API route {request.path}")
