"""The app factory, the pages, /healthz, model fallback at start-up, and Socket.IO origins."""

from __future__ import annotations

import json
import re
import time

import pytest

from webapp import config
from webapp.model.registry import ModelError

TEMPLATES = config.PROJECT_ROOT / "templates"
PAGE_KEYS = {"crop_fraction", "confidence_threshold", "model_name", "stable_ms", "fps_cap",
             "idle_clear_s", "max_side", "hand_locator", "overlap", "motion"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["model"] == "tiny"
    assert body["crop"] == "guide"  # the tiny model's metadata has no "crop": the guide square
    assert body["handshape"] is False  # one input: the picture alone
    assert body["clients"] == 0
    assert body["device"].startswith(("CPU", "GPU"))
    # The uptime counts: read again 0.3 s later, it has grown by about that (0.1 s steps).
    time.sleep(0.3)
    later = client.get("/healthz").get_json()["uptime_s"]
    assert 0.2 <= later - body["uptime_s"] <= 5.0, (body["uptime_s"], later)


def test_app_shares_one_service(app):
    state = app.extensions["signlive"]
    assert state.inference.model_name == state.model_name == "tiny"
    assert state.registry.exists("tiny")
    assert app.config["CONFIDENCE_THRESHOLD"] == 0.0  # test_config wins over the environment


@pytest.mark.parametrize("path,template", [("/", "live.html"), ("/kiosk", "kiosk.html")])
def test_pages_carry_page_config(client, path, template):
    if not (TEMPLATES / template).exists():
        pytest.skip(f"templates/{template} not written yet")
    response = client.get(path)
    assert response.status_code == 200
    match = re.search(rb'<script type="application/json" id="signlive-config">(.*?)</script>',
                      response.data, re.S)
    assert match, "page_config JSON block missing"
    page_config = json.loads(match.group(1))
    assert set(page_config) >= PAGE_KEYS
    assert page_config["model_name"] == "tiny"
    assert page_config["crop_fraction"] == pytest.approx(400 / 480)
    assert b"/admin" not in response.data or path == "/"  # the kiosk never links the admin


def test_page_config_values(app):
    from webapp.serve.pages import page_config

    with app.test_request_context("/"):
        values = page_config()
    assert set(values) == PAGE_KEYS
    assert values["confidence_threshold"] == 0.0 and values["max_side"] >= 224


@pytest.mark.parametrize("value,expected", [(None, 1), ("0", 0), ("1", 1), ("2", None),
                                            ("on", None)])
def test_the_overlap_setting_reaches_the_pages(make_app, tiny_config, monkeypatch, value,
                                               expected):
    """SIGNLIVE_OVERLAP: 1 (the default) or 0 in page_config; anything else stops the app
    with the variable's name."""
    if value is not None:
        monkeypatch.setenv("SIGNLIVE_OVERLAP", value)
    if expected is None:
        with pytest.raises(ValueError, match=f"SIGNLIVE_OVERLAP={value!r}"):
            make_app(tiny_config)
        return
    client = make_app(tiny_config).test_client()
    for path in ("/", "/kiosk"):
        assert f'"overlap": {expected}'.encode() in client.get(path).data


def test_unknown_path_is_404(client):
    assert client.get("/no-such-page").status_code == 404


def test_unusable_model_falls_back_to_the_shipped_default(make_app, tiny_config, tmp_path,
                                                           monkeypatch, tiny_models_dir, caplog):
    """A corrupt active model is refused with a clear log line; the shipped default serves."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for suffix in (".keras", ".json"):
        data = (tiny_models_dir / f"tiny2{suffix}").read_bytes()
        (shipped / f"default{suffix}").write_bytes(data.replace(b'"tiny2"', b'"default"'))
    monkeypatch.setattr(config, "DEFAULT_MODELS_DIR", shipped)
    models = tmp_path / "models"
    models.mkdir()
    (models / "bad.keras").write_bytes(b"garbage, not a model")
    (models / "bad.json").write_text('{"name": "bad", "input_size": 28}')
    app = make_app(dict(tiny_config, MODELS_DIR=str(models), ACTIVE_MODEL="bad"))
    assert app.extensions["signlive"].model_name == "default"
    assert "refusing model 'bad'" in caplog.text


def test_no_usable_model_refuses_to_start(make_app, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DEFAULT_MODELS_DIR", tmp_path / "empty")
    with pytest.raises(ModelError, match="cannot start"):
        make_app(dict(tiny_config, ACTIVE_MODEL="missing"))


@pytest.mark.parametrize("key,value", [("CORS_ORIGINS", "*"), ("CORS_ORIGINS", "a.com, *"),
                                       ("MAX_BATCH", 0), ("BATCH_WAIT_MS", -1),
                                       ("MAX_FRAME_BYTES", 10)])
def test_bad_settings_are_refused(make_app, tiny_config, key, value):
    with pytest.raises(ValueError):
        make_app(dict(tiny_config, **{key: value}))


def _handshake(client, origin: str | None):
    headers = {"Origin": origin} if origin else {}
    return client.get("/socket.io/?EIO=4&transport=polling", headers=headers)


def test_socketio_accepts_only_the_same_origin_by_default(client):
    assert _handshake(client, None).status_code == 200
    assert _handshake(client, "http://localhost").status_code == 200
    assert _handshake(client, "http://evil.example").status_code == 400


def test_configured_origins_are_allowed(make_app, tiny_config):
    client = make_app(dict(tiny_config, CORS_ORIGINS="https://kiosk.example")).test_client()
    assert _handshake(client, "https://kiosk.example").status_code == 200
    assert _handshake(client, "http://evil.example").status_code == 400
