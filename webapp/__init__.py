"""signlive: live ASL fingerspelling recognition. The app factory and its extensions live here.

`create_app()` reads the settings (webapp.config, then `test_config`), loads and warms up the
active model ONCE, starts the inference worker, and wires Flask-SocketIO in threading mode
(WebSocket through simple-websocket; the production server is gunicorn's gthread worker, see
docs/DEPLOY.md). Everything the live server shares lives in `app.extensions["signlive"]`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from flask import Flask
from flask_socketio import SocketIO

from webapp import config, metrics, security
from webapp.admin import dashboard
from webapp.device import describe
from webapp.model.registry import (
    ModelError,
    Registry,
    check_name,
    load_model_file,
    load_motion_file,
)
from webapp.serve import pages, scaleout
from webapp.serve.decoder import DecoderSettings
from webapp.serve.forward import prepare
from webapp.serve.inference import InferenceService
from webapp.serve.live import LiveNamespace
from webapp.serve.motionreader import MotionReader
from webapp.serve.suggest import Lexicon

socketio = SocketIO()
log = logging.getLogger("signlive")


class Signlive:
    """What the app shares across requests: the models registry, the inference service, ..."""

    def __init__(self, registry, inference, live, server, started: float) -> None:
        self.registry = registry
        self.inference = inference
        self.live = live
        self.server = server  # this app's python-socketio Server (thread-safe emit)
        self.started = started

    @property
    def model_name(self) -> str:
        return self.inference.model_name

    @property
    def device(self) -> str:
        return self.inference.device

    @property
    def clients(self) -> int:
        return self.live.client_count

    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def activate(self, name: str):
        """Load, validate and hot-swap model `name` into serving; returns its LoadedModel.

        Raises registry.ModelError (a ValueError) with a clear message when the model is
        missing or invalid; the previous model then keeps serving. Live pages get `model`.
        """
        loaded = self.registry.load(name)
        self.inference.swap(loaded)
        return loaded

    def close(self) -> None:
        self.inference.close()


def _cors_origins(raw: str) -> list[str] | None:
    """SIGNLIVE_CORS_ORIGINS (comma-separated) -> allowed origins; empty -> same origin only."""
    origins = [o.strip() for o in str(raw or "").split(",") if o.strip()]
    if "*" in origins:
        raise ValueError("SIGNLIVE_CORS_ORIGINS='*' is refused: list the allowed origins")
    return origins or None


def load_active_model(registry, name: str):
    """The configured model, else (logged clearly) the shipped default; never garbage.

    Raises ModelError when neither loads: the server must refuse to start then.
    """

    try:
        return registry.load(name)
    except ModelError as exc:
        log.error("refusing model %r: %s", name, exc)
        first_error = exc
    fallback = config.DEFAULT_MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"
    try:
        loaded = load_model_file(fallback)
    except ModelError as exc:
        raise ModelError(
            f"cannot start: model {name!r} is unusable ({first_error}) and the shipped "
            f"default is unusable too ({exc})"
        ) from None
    log.warning("serving the shipped default model %s instead of %r", fallback, name)
    return loaded


def load_motion_reader(models_dir: Path, name: str) -> MotionReader | None:
    """The motion reader (J, Z) `name` of the models folder, else the shipped one; None (said
    in the log) when the setting is empty or neither loads: the static letters still serve."""
    if not name:
        log.info("no motion reader (SIGNLIVE_MOTION_MODEL is empty): J and Z are not read")
        return None
    try:
        check_name(name)
    except ModelError as exc:
        log.error("motion reader refused: %s", exc)
        return None
    for folder in dict.fromkeys((models_dir, config.DEFAULT_MODELS_DIR)):
        path = folder / f"{name}.keras"
        if not path.exists():
            continue
        try:
            return MotionReader(load_motion_file(path))
        except ModelError as exc:
            log.error("motion reader %r refused: %s", name, exc)
    log.warning("serving without a motion reader: J and Z are not read")
    return None


def create_app(test_config: dict | None = None) -> Flask:
    """The Flask app with the live server; `test_config` overrides the environment's settings."""
    root = config.PROJECT_ROOT
    app = Flask(__name__, static_folder=str(root / "static"),
                template_folder=str(root / "templates"), instance_relative_config=True,
                # The instance folder (run history, password hash): tests give each app its
                # own; deployments choose it with SIGNLIVE_INSTANCE.
                instance_path=(test_config or {}).get("INSTANCE_PATH")
                or os.environ.get("SIGNLIVE_INSTANCE") or None)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # Settings are checked before anything starts, so a bad one leaves no thread behind.
    max_frame = int(app.config["MAX_FRAME_BYTES"])
    if max_frame < 1024:
        raise ValueError(f"MAX_FRAME_BYTES={max_frame} is too small for a camera frame")
    max_batch = int(app.config["MAX_BATCH"])
    if not 1 <= max_batch <= 256:
        raise ValueError(f"MAX_BATCH={max_batch} must be 1-256")
    if not 0 <= float(app.config["BATCH_WAIT_MS"]) <= 1000:
        raise ValueError(f"BATCH_WAIT_MS={app.config['BATCH_WAIT_MS']} must be 0-1000")
    cors_origins = _cors_origins(app.config["CORS_ORIGINS"])
    decoder_settings = DecoderSettings(settle_ms=float(app.config["STABLE_MS"]),
                                       confidence=float(app.config["CONFIDENCE_THRESHOLD"]))

    device = describe()
    registry = Registry(app.config["MODELS_DIR"])
    loaded = load_active_model(registry, str(app.config["ACTIVE_MODEL"]))
    inference = InferenceService(
        prepare(loaded, max_batch),
        max_batch=max_batch,
        batch_wait_ms=float(app.config["BATCH_WAIT_MS"]),
        confidence_threshold=float(app.config["CONFIDENCE_THRESHOLD"]),
        device=device,
        decoder=decoder_settings,
        # The word list's index is built once per process, in the background (about 2 s).
        lexicon=Lexicon.shared().start() if int(app.config["SUGGESTIONS"]) else None,
        motion=load_motion_reader(Path(app.config["MODELS_DIR"]), app.config["MOTION_MODEL"]),
    )

    # Repeated create_app() calls (tests) must not inherit options from an earlier app.
    socketio.server_options.clear()
    options = {
        "async_mode": "threading",
        # Frames up to MAX_FRAME_BYTES get an answer; up to twice that they get a `too_large`
        # error and the connection stays; beyond that the transport closes the connection
        # (it would have to buffer the message to answer it).
        "max_http_buffer_size": 2 * max_frame,
        "cors_allowed_origins": cors_origins,
        # Handlers run in each client's own reader thread, in order: the frame handler never
        # blocks, and a flood cannot spawn a thread per message.
        "async_handlers": False,
    }
    if app.config.get("MESSAGE_QUEUE"):
        options["message_queue"] = app.config["MESSAGE_QUEUE"]
    socketio.init_app(app, **options)
    live = LiveNamespace(inference, max_frame)
    socketio.server.register_namespace(live)
    app.extensions["signlive"] = Signlive(registry, inference, live, socketio.server,
                                          time.monotonic())

    app.register_blueprint(pages.bp)  # /, /kiosk, /healthz
    dashboard.init_app(app)  # login, dashboard, /api/, the /admin namespace, training jobs
    security.init_app(app)  # security headers, generic error pages
    metrics.init_app(app)
    scaleout.init_app(app)  # with SIGNLIVE_MESSAGE_QUEUE: activations reach every server
    metrics.log_startup(app)

    spec = inference.served.spec
    log.info("signlive ready: model=%s device=%s crop=%s crop_fraction=%.4f input=%d",
             inference.model_name, device, spec.crop, spec.crop_fraction, spec.input_size)
    return app
