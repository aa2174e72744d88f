"""The live and kiosk pages as the server renders them: config JSON, CSP-ready markup
(no inline script, handler or style), accessible controls, assets that exist, no admin links."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

PAGES = ("/", "/kiosk")
CONFIG_KEYS = {"crop_fraction", "confidence_threshold", "model_name", "stable_ms", "fps_cap",
               "idle_clear_s", "max_side"}


class Page(HTMLParser):
    """Collects the tags (with attributes) and the text of each <script> element."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "script":
            self._script, self._text = attributes, []

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None

    def find(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]

    def by_id(self, element_id: str) -> dict:
        found = [a for _, a in self.tags if a.get("id") == element_id]
        assert len(found) == 1, f"#{element_id} appears {len(found)} times"
        return found[0]


@pytest.fixture
def pages(client) -> dict[str, Page]:
    out = {}
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        out[path] = Page(response.get_data(as_text=True))
    return out


def _config(page: Page) -> dict:
    blocks = [text for attrs, text in page.scripts if attrs.get("id") == "signlive-config"]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_pages_carry_the_served_settings_as_json(app, pages):
    state = app.extensions["signlive"]
    for page in pages.values():
        cfg = _config(page)
        assert set(cfg) >= CONFIG_KEYS
        assert cfg["crop_fraction"] == pytest.approx(state.inference.served.spec.crop_fraction)
        assert cfg["confidence_threshold"] == app.config["CONFIDENCE_THRESHOLD"]
        assert cfg["model_name"] == state.model_name == "tiny"
        assert cfg["stable_ms"] > 0 and cfg["fps_cap"] > 0 and cfg["max_side"] >= 224


def test_page_settings_come_from_the_environment(make_app, tiny_config, monkeypatch):
    """An operator sets the page behaviour with SIGNLIVE_* variables (make run, gunicorn)."""
    for name, value in (("STABLE_MS", "700"), ("FPS_CAP", "8"), ("IDLE_CLEAR_S", "90"),
                        ("MAX_SIDE", "640")):
        monkeypatch.setenv(f"SIGNLIVE_{name}", value)
    cfg = _config(Page(make_app(tiny_config).test_client().get("/").get_data(as_text=True)))
    assert (cfg["stable_ms"], cfg["fps_cap"], cfg["idle_clear_s"], cfg["max_side"]) == (
        700, 8, 90, 640)


@pytest.mark.parametrize("name, value, message", [
    ("SIGNLIVE_STABLE_MS", "soon", "is not an integer"),
    ("SIGNLIVE_FPS_CAP", "0", "is outside 1-60"),
    ("SIGNLIVE_MAX_SIDE", "100", "is outside 224-1920"),
    ("SIGNLIVE_CONFIDENCE_THRESHOLD", "1.5", "is outside 0.0-1.0"),
])
def test_bad_page_settings_are_refused_by_name(make_app, tiny_config, monkeypatch, name, value,
                                               message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}={value!r} {message}"):
        make_app(tiny_config)


def test_pages_need_no_unsafe_inline(pages):
    """Everything a strict CSP (script-src 'self'; style-src 'self') allows: scripts only by
    src (or JSON data), no on* handlers, no style attributes, no <style> blocks."""
    for path, page in pages.items():
        for attrs, text in page.scripts:
            if attrs.get("type") == "application/json":
                continue
            assert attrs.get("src", "").startswith("/static/"), (path, attrs)
            assert not text.strip(), f"{path}: inline script {text[:60]!r}"
        for tag, attrs in page.tags:
            assert tag != "style", path
            assert "style" not in attrs, (path, tag, attrs)
            handlers = [name for name in attrs if name.startswith("on")]
            assert not handlers, (path, tag, handlers)
            for name in ("href", "src"):
                value = attrs.get(name) or ""
                assert not value.lower().startswith("javascript:"), (path, tag)


def test_page_assets_exist(client, pages):
    for path, page in pages.items():
        urls = [a["src"] for a in page.find("script") if a.get("src")]
        urls += [a["href"] for a in page.find("link") if a.get("href")]
        urls += [a["src"] for a in page.find("img") if a.get("src")]
        assert any("socket.io" in u for u in urls), path
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (path, url)
            response.close()


def test_live_page_controls_are_labelled(pages):
    page = pages["/"]
    for element_id in ("btn-space", "btn-backspace", "btn-clear", "btn-speak", "btn-copy",
                       "mirror", "switch-camera", "retry-camera"):
        attrs = page.by_id(element_id)
        assert attrs.get("type") == "button"
    for _, attrs in page.tags:
        if attrs.get("class", "").split()[:1] == ["btn"] and "id" in attrs:
            assert attrs.get("aria-label") or attrs["id"] == "retry-camera", attrs
    assert page.by_id("transcript").get("aria-live") == "polite"
    assert page.by_id("mirror").get("aria-pressed") in ("true", "false")
    assert "playsinline" in page.by_id("video")  # iOS: no full-screen takeover


def test_kiosk_has_no_controls_and_no_admin_links(client, pages):
    page = pages["/kiosk"]
    buttons = page.find("button")
    assert [b.get("id") for b in buttons] == ["fullscreen"]
    assert buttons[0].get("aria-label")
    assert not page.find("a") and not page.find("form")
    assert page.by_id("transcript").get("aria-live") == "polite"
    for path in PAGES:
        assert b"/admin" not in client.get(path).data, path


def test_config_json_cannot_break_out_of_its_script_block(app):
    """A model name is data: even one with </script> stays inside the JSON block."""
    from flask import render_template

    nasty = {"model_name": "</script><script>alert(1)</script>", "crop_fraction": 0.8,
             "confidence_threshold": 0.6, "stable_ms": 500, "fps_cap": 15, "idle_clear_s": 30,
             "max_side": 480}
    with app.test_request_context("/"):
        html = render_template("live.html", page_config=nasty)
    page = Page(html)
    assert _config(page)["model_name"] == nasty["model_name"]
    assert not [text for attrs, text in page.scripts if "alert" in text and
                attrs.get("type") != "application/json"]
