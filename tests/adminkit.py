"""Helpers shared by the admin tests: app settings, tiny models, login, a real server.

Not a test module (no test_ prefix): tests/ is on sys.path, so the admin tests import it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from webapp import config

PASSWORD = "correct horse battery staple"
_CSRF_RE = re.compile(r'name="csrf[-_]token"[^>]*(?:value|content)="([^"]+)"')


def settings(tmp: Path, models_dir: Path, **extra) -> dict:
    """create_app() test settings: own instance folder, given models, the real data."""
    values = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp / "instance"),
        "MODELS_DIR": str(models_dir),
        "DATA_DIR": str(config.data_dir()),
        # No photo folder unless a test makes one: the status would hash the real 28,000.
        "PHOTOS_DIR": str(tmp / "photos"),
        "ACTIVE_MODEL": "default",
        "ADMIN_PASSWORD": PASSWORD,
        "LOGIN_FAIL_DELAY_S": 0.01,
        "TRAIN_LIMIT": 300,
    }
    values.update(extra)
    return values


def close_app(app) -> None:
    """Stop an admin-enabled app's training-job manager and inference worker."""
    app.extensions["signlive.jobs"].shutdown()
    app.extensions["signlive"].close()


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, password: str = PASSWORD) -> str:
    """Log a Flask test client in; returns the admin page's CSRF token."""
    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin")
    assert page.status_code == 200
    return csrf_from(page.get_data(as_text=True))


def photos_only_admin(make_admin_app, tmp_path: Path):
    """A logged-in test client (CSRF header set) of a dashboard whose photo folder is
    tmp_path/photos and whose Sign MNIST folder is empty: a photos run must not need it."""
    no_csv = tmp_path / "no-sign-mnist"
    no_csv.mkdir()
    app = make_admin_app(DATA_DIR=str(no_csv), PHOTOS_DIR=str(tmp_path / "photos"))
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    return client


def login_requests(session, url: str, password: str = PASSWORD) -> str:
    """Log a requests.Session in against a real server; returns the CSRF token."""
    token = csrf_from(session.get(f"{url}/admin/login").text)
    response = session.post(f"{url}/admin/login", data={"password": password,
                                                          "csrf_token": token})
    response.raise_for_status()
    page = session.get(f"{url}/admin")
    assert page.status_code == 200 and "admin-config" in page.text
    return csrf_from(page.text)


def frame_jpeg(seed: int = 0) -> bytes:
    """A 640x480 camera-like frame (noise) as JPEG bytes."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def hang_up(client) -> None:
    """Close a python-socketio client at once (a clean close waits ~3 s for the close frame)."""
    client.eio.disconnect(abort=True)
