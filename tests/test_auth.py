"""Admin access: sessions, CSRF, the login limiter, the password and secret key on disk."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest
import requests
import socketio
from adminkit import (
    PASSWORD,
    close_app,
    csrf_from,
    hang_up,
    login,
    settings,
)
from modelkit import register
from serverkit import LiveServer

from webapp import create_app

# Every /api/ route (a concrete URL for each), with whether it changes anything.
API_ROUTES = [
    ("GET", "/api/runs", False),
    ("POST", "/api/runs", True),
    ("GET", "/api/runs/1", False),
    ("POST", "/api/runs/1/cancel", True),
    ("GET", "/api/models", False),
    ("POST", "/api/models/default/activate", True),
    ("DELETE", "/api/models/ghost", True),
    ("GET", "/api/data", False),
    ("GET", "/api/no-such-route", False),
]
MUTATING = [(method, path) for method, path, mutates in API_ROUTES if mutates]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    register(folder, "default")
    register(folder, "other", seed=1)
    return folder


@pytest.fixture
def app(make_admin_app):
    return make_admin_app()


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory, models_dir):
    """One app for the tests that only read, or are refused (faster than one app each)."""
    app = create_app(settings(tmp_path_factory.mktemp("shared"), models_dir))
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize(("method", "path", "mutates"), API_ROUTES)
def test_every_api_route_needs_a_session(shared_app, method, path, mutates):
    response = shared_app.test_client().open(path, method=method, json={} if mutates else None)
    assert response.status_code == 401
    assert response.get_json() == {"error": "admin login required"}


@pytest.mark.parametrize(("method", "path"), MUTATING)
def test_mutating_routes_need_the_csrf_token(shared_app, method, path):
    app = shared_app
    client = app.test_client()
    token = login(client)
    before = app.extensions["signlive"].model_name
    for headers in ({}, {"X-CSRFToken": "not-the-token"}, {"X-CSRFToken": ""}):
        response = client.open(path, method=method, json={"arch": "cnn"}, headers=headers)
        assert response.status_code == 403, (headers, response.get_json())
        assert "CSRF" in response.get_json()["error"]
    assert client.get("/api/runs").get_json()["total"] == 0
    assert app.extensions["signlive"].model_name == before
    assert (Path(app.config["MODELS_DIR"]) / "other.keras").exists()
    # The same request with the token gets past the guard (whatever the route then says).
    response = client.open(path, method=method, json={"epochs": "x"},
                           headers={"X-CSRFToken": token})
    assert response.status_code not in (401, 403)


def test_admin_page_redirects_to_login_and_renders_the_token(client):
    response = client.get("/admin")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/login")
    token = login(client)
    page = client.get("/admin").get_data(as_text=True)
    assert f'<meta name="csrf-token" content="{token}">' in page
    assert '<script type="application/json" id="admin-config">' in page
    # No inline script: every <script> is either JSON data or has a src.
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_wrong_password_is_refused(client):
    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong password" in response.get_data(as_text=True)
    assert client.get("/api/runs").status_code == 401


def test_login_form_needs_its_csrf_token(client):
    client.get("/admin/login")
    response = client.post("/admin/login", data={"password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/runs").status_code == 401


def test_failed_logins_are_limited_per_address(client):
    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    for _ in range(5):
        response = client.post("/admin/login", data={"password": "guess", "csrf_token": token})
        assert response.status_code == 401
    # Locked out: even the right password waits, and says how long.
    response = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    assert client.get("/api/runs").status_code == 401
    # Another address is not affected.
    response = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302


def test_logout_ends_the_session(client):
    token = login(client)
    assert client.get("/api/runs").status_code == 200
    response = client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/api/runs").status_code == 401


def test_session_cookie_flags(make_admin_app):
    app = make_admin_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_generated_password_is_logged_once_and_only_its_hash_is_stored(make_admin_app, tmp_path,
                                                                        caplog):
    caplog.set_level(logging.WARNING)
    app = make_admin_app(ADMIN_PASSWORD="")
    lines = [r.getMessage() for r in caplog.records if "admin password" in r.getMessage()]
    assert len(lines) == 1
    password = lines[0].rsplit(": ", 1)[1]
    assert len(password) >= 20
    path = Path(app.instance_path) / "admin_password.hash"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    assert password not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    # Nothing else in the instance folder holds the password either.
    for other in Path(app.instance_path).rglob("*"):
        if other.is_file():
            assert password.encode() not in other.read_bytes(), other

    # A restart on the same instance folder keeps the hash and logs no new password.
    caplog.clear()
    again = make_admin_app(ADMIN_PASSWORD="")
    assert not [r for r in caplog.records if "admin password" in r.getMessage()]
    assert path.read_text() == stored
    login(again.test_client(), password)


def test_secret_key_is_generated_once_and_sessions_survive_a_restart(make_admin_app):
    first = make_admin_app(SECRET_KEY="dev")
    path = Path(first.instance_path) / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] not in ("dev", "")
    client = first.test_client()
    login(client)
    cookie = client.get_cookie("session").value

    second = make_admin_app(SECRET_KEY="dev")
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    other = second.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/api/runs").status_code == 200


def test_admin_namespace_refuses_connections_without_a_session(app):
    with LiveServer(app) as server:
        anonymous = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            anonymous.connect(server.url, namespaces=["/admin"], transports=["websocket"],
                              wait_timeout=10)

        http = requests.Session()
        token = csrf_from(http.get(f"{server.url}/admin/login").text)
        http.post(f"{server.url}/admin/login", data={"password": PASSWORD, "csrf_token": token})
        admin = socketio.Client(reconnection=False)
        admin.connect(server.url, namespaces=["/admin"], transports=["websocket"],
                      headers={"Cookie": f"session={http.cookies['session']}"}, wait_timeout=10)
        try:
            assert admin.namespaces.get("/admin")
        finally:
            hang_up(admin)


def test_live_and_kiosk_pages_expose_no_admin_actions(client):
    for path in ("/", "/kiosk"):
        page = client.get(path).get_data(as_text=True)
        assert "csrf" not in page.lower()
        assert "/api/" not in page
