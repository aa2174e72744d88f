"""Admin access: the password (hash only on disk), the secret key, login throttling, CSRF.

There is one admin password. It comes from SIGNLIVE_ADMIN_PASSWORD (config ADMIN_PASSWORD);
without it the first start generates a strong one, logs it ONCE and keeps only its hash in
the instance folder, so a stolen disk or backup never reveals it. Sessions are Flask's signed
cookies; the key that signs them is kept in the instance folder when none is configured, so
logins survive restarts. Every mutating admin request carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, jsonify, session
from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger(__name__)

PASSWORD_FILE = "admin_password.hash"
SECRET_KEY_FILE = "secret_key"
INSECURE_KEYS = ("", "dev", None)
CSRF_HEADER = "X-CSRFToken"
SESSION_ADMIN = "admin"
SESSION_CSRF = "csrf"
EXTENSION = "signlive.auth"


def _write_private(path: Path, text: str) -> bool:
    """Create `path` with mode 0600 holding `text`; False if it already exists.

    O_EXCL makes the first writer win when several workers start at once, so only one of them
    generates (and logs) a password.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)  # in case the umask narrowed nothing but the mode was preset
    return True


def _read_private(path: Path) -> str:
    for _ in range(20):  # another worker may be between creating and writing the file
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty: delete it and restart to generate a new one")


def ensure_secret_key(app: Flask) -> None:
    """Use the configured SECRET_KEY, else the one kept in instance/secret_key (made once)."""
    if app.config.get("SECRET_KEY") not in INSECURE_KEYS:
        return
    path = Path(app.instance_path) / SECRET_KEY_FILE
    if not path.exists():
        _write_private(path, secrets.token_hex(32))
    app.config["SECRET_KEY"] = _read_private(path)


def ensure_password_hash(app: Flask) -> str:
    """The password hash to check logins against (see the module doc)."""
    configured = app.config.get("ADMIN_PASSWORD") or ""
    if configured:
        return generate_password_hash(configured)
    path = Path(app.instance_path) / PASSWORD_FILE
    if not path.exists():
        password = secrets.token_urlsafe(18)
        if _write_private(path, generate_password_hash(password)):
            app.logger.warning(
                "signlive admin password (shown once; only its hash is kept in %s; set "
                "SIGNLIVE_ADMIN_PASSWORD or delete that file to change it): %s", path, password)
    stored = _read_private(path)
    if "$" not in stored:
        raise RuntimeError(f"{path} does not hold a password hash: delete it and restart")
    return stored


class LoginLimiter:
    """Failed logins per client address in a sliding window (in memory, per process)."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        stamps = self._failures.get(address, deque())
        while stamps and now - stamps[0] >= self.window_s:
            stamps.popleft()
        return stamps

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            stamps = self._recent(address, now)
            if len(stamps) < self.max_failures:
                return 0
            return max(1, int(stamps[0] + self.window_s - now + 0.999))

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:  # bound memory under a spray of addresses
                for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[key]
            stamps = self._recent(address, now)
            stamps.append(now)
            self._failures[address] = stamps

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


class AdminAuth:
    """Per-app auth state: the password hash and the login limiter."""

    def __init__(self, password_hash: str, limiter: LoginLimiter, fail_delay_s: float) -> None:
        self.password_hash = password_hash
        self.limiter = limiter
        self.fail_delay_s = fail_delay_s

    def check_password(self, password: object) -> bool:
        if not isinstance(password, str) or not password or len(password) > 1024:
            return False
        return check_password_hash(self.password_hash, password)


def init_app(app: Flask) -> AdminAuth:
    """Secret key, cookie flags, password hash and limiter for `app`."""
    ensure_secret_key(app)
    # Secure (cookie sent over https only) when the deployment says it is behind https.
    if os.environ.get("SIGNLIVE_SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=float(app.config.get("ADMIN_SESSION_HOURS", 12)))
    state = AdminAuth(
        ensure_password_hash(app),
        LoginLimiter(int(app.config.get("LOGIN_MAX_FAILURES", 5)),
                     float(app.config.get("LOGIN_WINDOW_S", 300))),
        float(app.config.get("LOGIN_FAIL_DELAY_S", 0.5)),
    )
    app.extensions[EXTENSION] = state
    return state


def state() -> AdminAuth:
    return current_app.extensions[EXTENSION]


def is_admin() -> bool:
    return session.get(SESSION_ADMIN) is True


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_valid(sent: object) -> bool:
    token = session.get(SESSION_CSRF)
    return (isinstance(sent, str) and isinstance(token, str) and len(token) >= 32
            and hmac.compare_digest(sent.encode(), token.encode()))


def log_in() -> None:
    """Start a fresh admin session (new CSRF token: nothing from before login carries over)."""
    session.clear()
    session.permanent = True
    session[SESSION_ADMIN] = True
    csrf_token()


def log_out() -> None:
    session.clear()


def api_error(status: int, message: str, **extra: Any):
    """The one shape of an admin API error: {"error": message, ...} with `status`."""
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response
