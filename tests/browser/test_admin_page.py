"""The admin dashboard in headless Chromium: log in, train twice, watch, compare, screenshot."""

from __future__ import annotations

import pytest
from adminkit import PASSWORD, close_app, settings
from modelkit import register
from serverkit import LiveServer

from webapp import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def server(tmp_path):
    models = tmp_path / "models"
    held_out = {"split": "photos-v1", "n": 5245, "raw_webcam": 0.88, "photos_sha256": "0" * 64}
    register(models, "default", held_out={**held_out, "accuracy": 0.9091})
    register(models, "weaker", seed=1, held_out={**held_out, "accuracy": 0.5112})
    app = create_app(settings(tmp_path, models, TRAIN_LIMIT=800))
    with LiveServer(app) as live:
        yield live
    close_app(app)


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        # HTTP errors the test provokes (wrong password, bad parameter) are not page errors.
        page.on("console", lambda msg: msg.type == "error"
                and not msg.text.startswith("Failed to load resource")
                and page.errors.append(msg.text))
        yield page
        browser.close()


def _run_from_form(page, name: str, epochs: int, lr: str) -> None:
    page.select_option("#f-recipe", "article-cnn")  # Sign MNIST alone: no photo folder here
    assert page.input_value("#f-train-on") == "csv" and page.input_value("#f-input-size") == "28"
    page.fill("#f-epochs", str(epochs))
    page.fill("#f-batch", "32")
    page.fill("#f-lr", lr)
    page.fill("#f-name", name)
    page.set_checked("#f-augment", False)
    page.fill("#f-limit", "800")
    page.click("#start-btn")


def _wait_for_badge(page, status: str) -> None:
    page.wait_for_function(
        "s => document.getElementById('run-badge').textContent === s", arg=status,
        timeout=150_000)


def test_admin_dashboard_trains_and_charts_live(server, page, artifacts_dir):
    # The page runs under the app's Content-Security-Policy (no bypass): functions, not
    # strings, are what the test evaluates in it.
    page.goto(f"{server.url}/admin")
    assert page.url.endswith("/admin/login")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert "Wrong password" in page.text_content(".alert-error")
    page.screenshot(path=str(artifacts_dir / "admin-login.png"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/admin")
    page.wait_for_selector(".data-ok", timeout=15_000)
    page.wait_for_selector("#conn[data-state=connected]", timeout=15_000)
    assert "active" in page.text_content("#models-table tr[data-model=default]")
    # The form opens on the real-world recipe; the table puts the held-out photos first.
    assert page.input_value("#f-recipe") == "real-world"
    assert (page.input_value("#f-arch"), page.input_value("#f-train-on"),
            page.input_value("#f-crop"), page.input_value("#f-input-size")) == (
        "resnet", "both", "hand", "56")
    assert page.is_checked("#f-hand-shape")
    headers = page.locator("#models-table thead th").all_text_contents()
    assert headers[2:4] == ["Held-out photos", "Sign MNIST"]
    assert "90.91 %" in page.text_content("#models-table tr[data-model=default]")
    page.screenshot(path=str(artifacts_dir / "admin-form.png"))

    # Serving a model that reads the held-out photos worse asks first, with both figures.
    page.click("#models-table tr[data-model=weaker] button:has-text('Activate')")
    page.wait_for_selector("#confirm-dialog[open]")
    warning = page.text_content("#confirm-text")
    assert "weaker reads 51.12 %" in warning and "default, serving now, reads 90.91 %" in warning
    page.screenshot(path=str(artifacts_dir / "admin-activation-warning.png"))
    page.click("#confirm-cancel")
    page.wait_for_selector("#confirm-dialog:not([open])", state="hidden")
    assert "active" in page.text_content("#models-table tr[data-model=default]")

    # A bad parameter is refused by the server with a message that names the field.
    page.select_option("#f-recipe", "article-cnn")  # Sign MNIST alone: no photo folder here
    page.fill("#f-batch", "3")
    page.click("#start-btn")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "batch_size" in page.text_content("#form-error")
    assert page.eval_on_selector("#f-batch", "el => el.classList.contains('invalid')")

    _run_from_form(page, "browser-lr-high", 3, "0.003")
    _wait_for_badge(page, "running")
    # The curves grow while the run trains: first batch points, then epoch points.
    page.wait_for_function("() => window.signliveAdmin.charts.pointCount() > 0",
                           timeout=120_000)
    _wait_for_badge(page, "succeeded")
    page.wait_for_function("() => window.signliveAdmin.charts.pointCount() >= 6",
                           timeout=15_000)
    assert "epoch 3/3" in page.text_content("#log")
    page.wait_for_selector("#models-table tr[data-model=browser-lr-high]", timeout=15_000)

    _run_from_form(page, "browser-lr-low", 3, "0.0005")
    page.wait_for_function(
        "() => document.getElementById('run-title').textContent.includes('browser-lr-low')")
    _wait_for_badge(page, "succeeded")
    page.wait_for_selector("#runs-table tbody tr:nth-child(2)", timeout=15_000)

    # Overlay both runs' curves. Locators, not element handles: the runs table is drawn anew
    # whenever the run list reloads (a run finishing reloads it once more, a moment after its
    # badge turns), and a locator finds its checkbox again in the new table.
    boxes = page.locator("#runs-table tbody input[type=checkbox]")
    for n in range(boxes.count()):
        boxes.nth(n).check()
    page.wait_for_function(
        "() => window.signliveAdmin.charts.loss.data.datasets.length === 4", timeout=15_000)
    assert "comparing runs" in page.text_content("#chart-subtitle")

    # Per-run confusion matrix and per-class table.
    page.click("#runs-table tbody tr:first-child button")
    page.wait_for_selector("#details-card:not([hidden]) table.confusion")
    assert page.locator("table.confusion tbody tr").count() == 24
    assert page.locator("#per-class tbody tr").count() == 24

    # A trained model never scored on the held-out photos (no photo folder here) asks too.
    page.click("#models-table tr[data-model=browser-lr-low] button:has-text('Activate')")
    page.wait_for_selector("#confirm-dialog[open]")
    assert "an unknown share (never scored)" in page.text_content("#confirm-text")
    page.click("#confirm-ok")
    page.wait_for_function("() => document.querySelector("
                           "'#models-table tr[data-model=browser-lr-low]').textContent"
                           ".includes('active')", timeout=30_000)

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / "admin.png"), full_page=True)
    assert not page.errors, page.errors
