"""Hostile HTTP: bad bodies, path traversal, forced internal errors, security headers.

(tests/test_api.py checks every run parameter; this file is about what no route may do:
leak a stack trace, touch a file outside the models folder, or answer without its headers.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from adminkit import close_app, login

from webapp import create_app
from webapp.model.registry import ModelError, Registry, check_name

SECRET_WORDS = ("Traceback", 'File "', "RuntimeError", "kaboom", "/work/", "site-packages")


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_models_dir) -> dict:
    """A models folder (default, other) and, OUTSIDE it, a valid model file as bait."""
    root = tmp_path_factory.mktemp("hostile-http")
    models = root / "models"
    models.mkdir()
    for source, name in (("tiny", "default"), ("tiny2", "other")):
        for suffix in (".keras", ".json"):
            shutil.copy(tiny_models_dir / f"{source}{suffix}", models / f"{name}{suffix}")
    bait = root / "bait"
    bait.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(tiny_models_dir / f"tiny2{suffix}", bait / f"evil{suffix}")
    return {"root": root, "models": models, "bait": bait}


@pytest.fixture(scope="module")
def app(world):
    from adminkit import settings

    app = create_app(settings(world["root"], world["models"], ACTIVE_MODEL="default"))
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def admin(app):
    client = app.test_client()
    client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
    return client


def assert_no_leak(response) -> None:
    body = response.get_data(as_text=True)
    for word in SECRET_WORDS:
        assert word not in body, (word, body[:500])


def assert_json_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    data = response.get_json()
    assert isinstance(data, dict) and isinstance(data.get("error"), str), data
    assert all(w.lower() in data["error"].lower() for w in words), data
    assert_no_leak(response)
    return data


def nothing_changed(app, world) -> None:
    assert app.extensions["signlive"].model_name == "default"
    assert (world["bait"] / "evil.keras").exists() and (world["bait"] / "evil.json").exists()
    assert sorted(p.name for p in world["models"].iterdir() if not p.name.startswith(".")) == [
        "default.json", "default.keras", "other.json", "other.keras"]
    assert app.extensions["signlive.jobs"].store.count() == 0


# --- bodies -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body,content_type,words", [
    ("{arch: cnn}", "application/json", ["malformed JSON"]),
    ('{"arch": "cnn"', "application/json", ["malformed JSON"]),
    ("null", "application/json", ["JSON object"]),
    ("42", "application/json", ["JSON object"]),
    ('{"arch": "cnn", "epochs": NaN}', "application/json", ["epochs"]),
    ('{"arch": "cnn", "learning_rate": Infinity}', "application/json", ["learning_rate"]),
    ('{"arch": "cnn"}', "application/x-www-form-urlencoded", ["Content-Type"]),
], ids=["unquoted", "unclosed", "null", "number", "nan", "infinity", "form-encoded"])
def test_malformed_json_is_a_400_with_a_message(admin, app, world, body, content_type, words):
    assert_json_error(admin.post("/api/runs", data=body, content_type=content_type), 400, *words)
    nothing_changed(app, world)


@pytest.mark.parametrize("body,field", [
    ({"arch": "cnn", "epochs": 1, "shell": "rm -rf /"}, "shell"),
    ({"arch": "cnn", "__proto__": {"admin": True}}, "__proto__"),
    ({"arch": {"$ne": None}}, "arch"),
    ({"arch": "cnn", "epochs": [1]}, "epochs"),
    ({"arch": "cnn", "batch_size": "128"}, "batch_size"),
    ({"arch": "cnn", "epochs": 10**30}, "epochs"),
], ids=["unknown-field", "proto-pollution", "operator-object", "list-int", "string-int",
        "huge-int"])
def test_unknown_fields_and_wrong_types_are_a_400_naming_the_field(admin, app, world, body,
                                                                    field):
    data = assert_json_error(admin.post("/api/runs", json=body), 400, field)
    assert data.get("field") == field
    nothing_changed(app, world)


def test_a_huge_api_body_is_a_413(admin, app, world):
    body = '{"arch": "cnn", "name": "' + "x" * (5 * 1024 * 1024) + '"}'
    assert_json_error(admin.post("/api/runs", data=body, content_type="application/json"), 413,
                      "too large")
    nothing_changed(app, world)


def test_a_huge_form_body_on_a_page_is_a_413(app, world):
    client = app.test_client()
    response = client.post("/admin/login", data={"password": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert_no_leak(response)
    assert response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=100000", "offset=1e3",
                                   "offset=-5"])
def test_bad_pagination_is_a_400(admin, query):
    assert_json_error(admin.get(f"/api/runs?{query}"), 400, query.split("=")[0])


# --- path traversal ---------------------------------------------------------------------------

TRAVERSALS = ["../x", "..%2Fx", "..%2F..%2Fbait%2Fevil", "%2E%2E%2Fbait%2Fevil", "..",
              "%2Fetc%2Fpasswd", "%00", "evil%00", "default%00.keras", "default%0A",
              "default.keras", "..%5Cbait%5Cevil", "~%2F.ssh", "%C0%AE%C0%AE%2Fx",
              "x" * 300]


def _bait_path_names(world) -> list[str]:
    """The bait model addressed every way a path can be written."""
    bait = world["bait"] / "evil"
    return [str(bait), f"..%2F{bait.name}", str(bait).replace("/", "%2F"),
            "..%2F" + str(bait.relative_to(world["root"])).replace("/", "%2F")]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_model_names_cannot_escape_the_models_folder(admin, app, world, name):
    for method, path in (("post", f"/api/models/{name}/activate"),
                         ("delete", f"/api/models/{name}")):
        response = getattr(admin, method)(path)
        assert response.status_code in (400, 404, 405), (path, response.status_code)
        assert_json_error(response, response.status_code)
    nothing_changed(app, world)


def test_the_bait_outside_the_models_folder_is_unreachable(admin, app, world):
    for name in _bait_path_names(world):
        for method, path in (("post", f"/api/models/{name}/activate"),
                             ("delete", f"/api/models/{name}")):
            response = getattr(admin, method)(path)
            assert response.status_code in (400, 404, 405), (path, response.status_code)
            assert_no_leak(response)
    nothing_changed(app, world)


@pytest.mark.parametrize("name", ["../evil", "../../bait/evil", "/tmp/evil", "a/b", "evil\x00",
                                  "..", ".hidden", "de\nfault", "x" * 65, "model.json",
                                  "CON/../x", "C:\\evil"])
def test_run_names_cannot_escape_the_models_folder(admin, app, world, name):
    data = assert_json_error(admin.post("/api/runs", json={"arch": "cnn", "epochs": 1,
                                                           "name": name}), 400, "name")
    assert data.get("field") == "name"
    nothing_changed(app, world)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a\x00b", "x\n", "..", "a/../b",
                                  "", " ", "x" * 65, "evil.keras", None, 7])
def test_registry_refuses_unsafe_names(world, name):
    with pytest.raises(ModelError):
        check_name(name)
    registry = Registry(world["models"])
    with pytest.raises(ModelError):
        registry.load(name)
    with pytest.raises(ModelError):
        registry.delete(name)


# --- internal errors --------------------------------------------------------------------------

def _explode(*args, **kwargs):
    raise RuntimeError("kaboom at /work/secret/path")


def test_an_internal_error_on_the_api_is_generic_json(admin, app, monkeypatch, caplog):
    monkeypatch.setattr(Registry, "list", _explode)
    data = assert_json_error(admin.get("/api/models"), 500, "internal error")
    assert set(data) == {"error"}
    assert "kaboom" in caplog.text  # ... while the log has the whole story


def test_an_internal_error_on_a_page_is_a_generic_html_page(app, monkeypatch, caplog):
    from webapp.serve import pages

    monkeypatch.setattr(pages, "page_config", _explode)
    response = app.test_client().get("/", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Internal Server Error" in response.get_data(as_text=True)
    assert_no_leak(response)
    assert response.headers["Content-Security-Policy"]
    assert '"event": "http_error"' in caplog.text and "kaboom" in caplog.text


def test_an_internal_error_asked_for_as_json_is_json(app, monkeypatch):
    monkeypatch.setattr(type(app.extensions["signlive"]), "uptime_s", _explode)
    response = app.test_client().get("/healthz")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error; the details are in the server log"}
    assert_no_leak(response)


def test_unknown_pages_and_methods_leak_nothing(app):
    client = app.test_client()
    for response in (client.get("/../../etc/passwd"), client.get("/static/../webapp/admin/auth.py"),
                     client.get("/static/%2e%2e/webapp/admin/auth.py"), client.delete("/"),
                     client.get("/kiosk/%00"), client.get("/admin/" + "x" * 5000)):
        assert response.status_code in (404, 405), response.status_code
        assert_no_leak(response)
        assert "ensure_secret_key" not in response.get_data(as_text=True)


# --- headers ----------------------------------------------------------------------------------

def _assert_headers(response, frame_ancestors: str = "'none'") -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                      "object-src 'none'", "base-uri 'self'", "connect-src 'self' ws: wss:",
                      "media-src 'self' blob: mediastream:", "img-src 'self' data: blob:",
                      f"frame-ancestors {frame_ancestors}"):
        assert directive in csp, (directive, csp)
    # 'wasm-unsafe-eval' (MediaPipe Hands on the live pages) compiles WebAssembly only;
    # JavaScript eval stays blocked.
    assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin")


def test_security_headers_on_every_page(app, admin):
    client = app.test_client()
    paths = ["/", "/kiosk", "/healthz", "/metrics", "/admin/login", "/admin", "/api/runs",
             "/no-such-page", "/static/js/live.js", "/static/css/app.css"]
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 302, 401, 404), (path, response.status_code)
        _assert_headers(response)
        assert response.headers.get("X-Frame-Options") == "DENY"
    for path in ("/admin", "/api/runs", "/api/models"):
        response = admin.get(path)
        assert response.status_code == 200
        _assert_headers(response)
    assert admin.post("/api/runs", json={"arch": "nope"}).headers["Content-Security-Policy"]


def test_the_kiosk_may_be_embedded_by_a_configured_origin(tiny_config, make_app):
    app = make_app(dict(tiny_config, KIOSK_EMBEDDERS="https://signage.example, "
                                                     "https://museum.example:8443"))
    client = app.test_client()
    kiosk = client.get("/kiosk")
    _assert_headers(kiosk, "https://signage.example https://museum.example:8443")
    assert "X-Frame-Options" not in kiosk.headers
    _assert_headers(client.get("/"))  # only the kiosk
    assert client.get("/").headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("value", ["*", "https://a.example; script-src *", "'unsafe-inline'",
                                   "javascript:alert(1)", "https://a.example'"])
def test_a_bad_embedder_setting_refuses_to_start(tiny_config, make_app, value):
    with pytest.raises(ValueError, match="KIOSK_EMBEDDERS"):
        make_app(dict(tiny_config, KIOSK_EMBEDDERS=value))


# --- production settings ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["dev", "changeme", "secret", "short", "", None])
def test_production_refuses_a_placeholder_secret_key(app, key):
    from webapp.security import require_production_settings

    saved = app.config["SECRET_KEY"]
    try:
        app.config["SECRET_KEY"] = key
        with pytest.raises(ValueError, match="SECRET_KEY"):
            require_production_settings(app)
    finally:
        app.config["SECRET_KEY"] = saved
    require_production_settings(app)  # the key auth.py generated and kept is accepted


def test_the_generated_key_is_kept_in_the_instance_folder_not_dev(app):
    key = app.config["SECRET_KEY"]
    assert key not in ("dev", "") and len(key) >= 32
    assert (Path(app.instance_path) / "secret_key").read_text().strip() == key


def test_the_production_entry_point_refuses_a_placeholder_key(tiny_models_dir, tmp_path):
    """webapp.wsgi (what gunicorn loads) exits with gunicorn's boot-error status, saying why."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, SIGNLIVE_SECRET_KEY="changeme", SIGNLIVE_MODELS=str(tiny_models_dir),
               SIGNLIVE_MODEL="tiny", SIGNLIVE_ADMIN_PASSWORD="x" * 20,
               SIGNLIVE_INSTANCE=str(tmp_path / "instance"),
               TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", "import webapp.wsgi"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "SECRET_KEY is a placeholder" in result.stderr
