"""HTTP hardening: security headers on every response, generic error pages, production checks.

Why here and not in each view: a header forgotten on one page is a hole, so one after_request
hook sets them on everything (pages, static files, JSON, errors). The pages are CSP-ready (no
inline script or style: settings travel as JSON in `<script type="application/json">`), so
the policy allows scripts, styles and connections from this origin only (the live and kiosk
pages may also compile WebAssembly, for the hand locator: see WASM_PAGES). The kiosk page may be
embedded by the origins listed in SIGNLIVE_KIOSK_EMBEDDERS (a museum's signage frame); every
other page refuses to be framed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from typing import Any

from flask import Flask, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException

from webapp.metrics import log_event

log = logging.getLogger("signlive.security")

# Keys no production server may sign sessions with (the auth module's generated key is fine).
PLACEHOLDER_KEYS = frozenset({"", "dev", "development", "secret", "changeme", "change-me",
                              "default", "test", "none"})
KIOSK_PATH = "/kiosk"
MAX_BODY_BYTES = 1024 * 1024
_ORIGIN = re.compile(r"^(https?://[A-Za-z0-9.*-]+(:\d{1,5})?|'self')$")

CSP_BASE = (
    "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# The live and kiosk pages find the hand with MediaPipe Hands, which is WebAssembly: compiling
# a module (WebAssembly.instantiate, also hands.js's SIMD feature probe) is refused under plain
# script-src 'self', so these pages, and only while the hand locator is on, add
# 'wasm-unsafe-eval'. It allows compiling WebAssembly and nothing else: JS eval() and
# new Function() stay blocked. MediaPipe needs nothing more here (checked in headless Chromium,
# tests/browser/test_csp.py): its loader scripts, .wasm, .data and .tflite files come from
# this origin ('self' for scripts and fetches), and it starts no workers and no blob: scripts.
WASM_PAGES = frozenset({"/", KIOSK_PATH})

# Frames a second one /live client may send. The pages send at most fps_cap (15) with one frame
# in flight; a scripted client on a fast server may do far more, and gets `rate_limited` errors
# past this budget. FLOOD_FACTOR x the budget within one second cuts the client off.
DEFAULT_MAX_CLIENT_FPS = 240.0
FLOOD_FACTOR = 2

_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ code }} {{ name }}</title></head>
<body><h1>{{ code }} {{ name }}</h1><p>{{ message }}</p></body></html>
"""


def parse_sources(raw: str | None, setting: str) -> list[str]:
    """Origins from a comma/space-separated setting; ValueError on anything that is not one.

    A stray ';' or quote would let a configuration value inject its own CSP directives.
    """
    sources = [s for s in re.split(r"[,\s]+", str(raw or "").strip()) if s]
    for source in sources:
        if source == "*" or not _ORIGIN.match(source):
            raise ValueError(f"{setting}: {source!r} is not an origin like https://example.org")
    return sources


def frame_ancestors(app: Flask, path: str) -> str:
    """The frame-ancestors sources for `path`: 'none' unless configured otherwise."""
    sources = app.config["SIGNLIVE_FRAME_ANCESTORS"]
    if path.rstrip("/") == KIOSK_PATH and app.config["SIGNLIVE_KIOSK_EMBEDDERS"]:
        sources = list(dict.fromkeys(sources + app.config["SIGNLIVE_KIOSK_EMBEDDERS"]))
    return " ".join(sources) if sources else "'none'"


def content_security_policy(app: Flask, path: str) -> str:
    """The CSP for `path`, without frame-ancestors (see frame_ancestors)."""
    script_src = "'self'"
    if app.config.get("HAND_LOCATOR", 1) and (path.rstrip("/") or "/") in WASM_PAGES:
        script_src += " 'wasm-unsafe-eval'"
    return CSP_BASE.format(script_src=script_src)


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/metrics", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _error_response(code: int, name: str, message: str):
    if _wants_json():
        response = jsonify(error=message)
    else:
        response = app_error_page(code, name, message)
    response.status_code = code
    return response


def app_error_page(code: int, name: str, message: str):
    from flask import make_response

    return make_response(render_template_string(_ERROR_PAGE, code=code, name=name,
                                                message=message))


def init_app(app: Flask) -> None:
    """Headers on every response and generic error bodies (no stack trace ever leaves)."""
    app.config["SIGNLIVE_FRAME_ANCESTORS"] = parse_sources(
        app.config.get("FRAME_ANCESTORS", os.environ.get("SIGNLIVE_FRAME_ANCESTORS")),
        "SIGNLIVE_FRAME_ANCESTORS")
    app.config["SIGNLIVE_KIOSK_EMBEDDERS"] = parse_sources(
        app.config.get("KIOSK_EMBEDDERS", os.environ.get("SIGNLIVE_KIOSK_EMBEDDERS")),
        "SIGNLIVE_KIOSK_EMBEDDERS")

    # No page takes an upload: a request body past 1 MiB is refused before it is read (the
    # admin API has its own, smaller limit; Socket.IO traffic never reaches Flask).
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    live = app.extensions["signlive"].live
    live.guard = FrameRateGuard(float(app.config.get(
        "MAX_CLIENT_FPS", os.environ.get("SIGNLIVE_MAX_CLIENT_FPS") or DEFAULT_MAX_CLIENT_FPS)))
    live.guard.install(app.extensions["signlive"].server)

    @app.after_request
    def _headers(response):
        ancestors = frame_ancestors(app, request.path)
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           f"{content_security_policy(app, request.path)}; "
                           f"frame-ancestors {ancestors}")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if ancestors == "'none'":  # for browsers that predate frame-ancestors
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy",
                           "camera=(self), microphone=(), geolocation=(), payment=()")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Blueprints with their own handlers (the admin API) answer first; this is the rest.
        if exc.code is None or exc.code < 400:
            return exc
        return _error_response(exc.code, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log_event(log, logging.ERROR, "http_error", method=request.method, path=request.path,
                  error=type(exc).__name__, exc_info=exc)
        return _error_response(500, "Internal Server Error",
                               "internal error; the details are in the server log")


def require_production_settings(app: Flask) -> None:
    """Refuse (ValueError) to serve production with a placeholder SECRET_KEY or in debug mode.

    webapp.admin.auth replaces an absent or "dev" key by one generated once and kept in the instance
    folder; this check makes sure nothing weaker survives to production (gunicorn, wsgi.py).
    """
    key = app.config.get("SECRET_KEY")
    if not isinstance(key, (str, bytes)) or str(key).strip().lower() in PLACEHOLDER_KEYS:
        raise ValueError("SECRET_KEY is a placeholder: set SIGNLIVE_SECRET_KEY to a long "
                         "random value (or unset it to use the key kept in the instance folder)")
    if len(key) < 8:
        raise ValueError("SECRET_KEY is too short: set SIGNLIVE_SECRET_KEY to a long random "
                         "value, e.g. python -c 'import secrets; print(secrets.token_hex(32))'")
    if app.debug:
        raise ValueError("debug mode is on: never serve production with FLASK_DEBUG")
    if app.config.get("MESSAGE_QUEUE") and not os.environ.get("SIGNLIVE_SECRET_KEY"):
        log.warning("several servers share a message queue but SIGNLIVE_SECRET_KEY is unset: "
                    "each keeps its own key, so an admin login only works on the server that "
                    "issued it (set the same SIGNLIVE_SECRET_KEY on every server)")


class FrameRateGuard:
    """A per-client message budget for /live, checked before a frame is even validated.

    Latest-wins already keeps a flood from queueing, but every message still costs the server
    its WebSocket parsing under the GIL (a few hundred microseconds a frame in pure Python),
    so one client sending thousands a second would slow everyone's round trip several-fold.
    Past `max_fps` messages in the last second a frame is refused with a `rate_limited` error
    carrying its id (a client that waits for each answer is never left hanging); past
    FLOOD_FACTOR x the budget the client is cut off (`flood` error, then its transport is
    closed), which stops its cost at once.
    """

    def __init__(self, max_fps: float, flood_factor: float = FLOOD_FACTOR) -> None:
        if not 1 <= max_fps <= 100_000:
            raise ValueError(f"MAX_CLIENT_FPS={max_fps} must be 1-100000")
        self.budget = int(max_fps)
        self.flood_limit = int(max_fps * flood_factor)
        self._seen: dict[str, deque[float]] = {}
        self._cut: dict[str, float] = {}  # Engine.IO sids cut off -> when
        self._lock = threading.Lock()

    def install(self, server: Any) -> None:
        """Screen `server`'s Engine.IO messages before Socket.IO decodes them.

        Two things happen there that no namespace handler sees: messages a cut-off client had
        already sent (the WebSocket layer buffers them and hands them over after the close,
        thousands after a flood) and malformed Socket.IO packets (a stray binary message),
        which python-socketio answers with a logged traceback each. Both are dropped here,
        and a client sending malformed packets is cut off with one log line.
        """
        decode = server.eio.handlers["message"]

        def on_message(eio_sid: str, data: Any) -> Any:
            if eio_sid in self._cut:
                return None
            try:
                return decode(eio_sid, data)
            except ValueError as exc:
                # The type only: a decoding error may quote bytes of the message (a frame).
                log_event(log, logging.WARNING, "malformed_packet", error=type(exc).__name__)
                self.cut_off(server, eio_sid)
                return None

        server.eio.on("message", on_message)

    def cut_off(self, server: Any, eio_sid: str) -> None:
        """Close a client's transport and ignore whatever it already sent."""
        now = time.monotonic()
        with self._lock:
            for old in [k for k, t in self._cut.items() if now - t > 60]:
                del self._cut[old]
            self._cut[eio_sid] = now
        # A client that opened its connection directly as a WebSocket (scripted clients do)
        # holds that request's socket: shut it, so the server stops reading what it still
        # sends. (The pages start with long-polling; their upgraded socket is not reachable
        # here, and the Engine.IO close below ends it a moment later.)
        environ = getattr(server, "environ", {}).get(eio_sid) or {}
        raw = None
        if str(environ.get("HTTP_UPGRADE", "")).lower() == "websocket":
            raw = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        try:
            server.eio.disconnect(eio_sid)
        except Exception:  # already gone
            log.debug("disconnect of %s failed", eio_sid, exc_info=True)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    def check(self, sid: str) -> str:
        """"ok", "rate_limited" or "flood" for one more message from `sid` now."""
        now = time.monotonic()
        with self._lock:
            stamps = self._seen.setdefault(sid, deque())
            while stamps and now - stamps[0] >= 1.0:
                stamps.popleft()
            stamps.append(now)
            if len(stamps) > self.flood_limit:
                return "flood"
            return "ok" if len(stamps) <= self.budget else "rate_limited"

    def admit(self, namespace: Any, sid: str, payload: Any = None) -> bool:
        """True when the message may go on; otherwise refuse it (and maybe cut the client off).

        `namespace` is the /live python-socketio Namespace (`emit`, `server`, and the
        inference service that keeps the rejection counters).
        """
        verdict = self.check(sid)
        if verdict == "ok":
            return True
        namespace.inference.record_rejected(verdict)
        if verdict == "rate_limited":
            frame_id = payload.get("id") if isinstance(payload, dict) else None
            if not (isinstance(frame_id, int) and not isinstance(frame_id, bool)
                    and 0 <= frame_id < 2**53):
                frame_id = None
            namespace.emit("error", {"id": frame_id, "code": "rate_limited", "message": (
                f"more than {self.budget} frames a second: frame dropped (send the next frame "
                "when the previous answer arrives)")}, to=sid)
            return False
        log_event(log, logging.WARNING, "flood_disconnect", sid=sid,
                  limit_per_second=self.flood_limit)
        namespace.emit("error", {"id": None, "code": "flood", "message": (
            f"more than {self.flood_limit} messages a second: disconnected")}, to=sid)
        self.forget(sid)
        server = namespace.server
        eio_sid = server.manager.eio_sid_from_sid(sid, namespace.namespace)
        if eio_sid is not None:  # the whole transport: leaving /live alone would keep reading
            self.cut_off(server, eio_sid)
        return False

    def forget(self, sid: str) -> None:
        with self._lock:
            self._seen.pop(sid, None)
