"""Every page works under the app's Content-Security-Policy: Chromium reports no violation
(`securitypolicyviolation` events, console "Refused to ..."), and the pages do their job."""

from __future__ import annotations

import numpy as np
import pytest
from adminkit import PASSWORD, close_app
from chromium import chromium, playwright
from serverkit import LiveServer
from y4m import background, spelling_video

from webapp import create_app

pytestmark = [pytest.mark.browser]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} ` +
                              `(${e.sourceFile}:${e.lineNumber})`);
});
"""


@pytest.fixture(scope="module")
def server(tiny_config, tmp_path_factory):
    app = create_app(dict(tiny_config, ADMIN_PASSWORD=PASSWORD,
                          INSTANCE_PATH=str(tmp_path_factory.mktemp("instance"))))
    with LiveServer(app) as live:
        yield live
    close_app(app)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sample = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    video = spelling_video(tmp_path_factory.mktemp("video") / "camera.y4m", [sample],
                           background(70), lead_s=0.3, hold_s=0.5, gap_s=0.3)
    with playwright() as pw, chromium(pw, video) as b:
        yield b


def _open(browser, url: str, requested: list[str] | None = None):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    if requested is not None:
        page.on("request", lambda request: requested.append(request.url))
    page.csp_console = []
    page.on("console", lambda msg: ("Content Security Policy" in msg.text
                                    or "Refused to" in msg.text)
            and page.csp_console.append(msg.text))
    page.goto(url)
    return page


def _assert_clean(page) -> None:
    page.wait_for_timeout(500)  # late resources (fonts, images, vendor scripts)
    violations = page.evaluate("() => window.__cspViolations")
    assert violations == [] and page.csp_console == [], (violations, page.csp_console)


@pytest.mark.parametrize("path", ["/", "/kiosk"])
def test_live_pages_run_under_the_csp(server, browser, path):
    requested: list[str] = []
    page = _open(browser, server.url + path, requested)
    try:
        assert "script-src 'self'" in page.evaluate(
            "async () => (await fetch(location.href)).headers.get('content-security-policy')")
        # The page's modules ran: camera up, connected, answers arriving.
        page.wait_for_function("() => document.getElementById('status')?.dataset.state === "
                               "'connected' || document.body.dataset.camera === 'running'",
                               timeout=20_000)
        # The hand locator (MediaPipe Hands: WebAssembly, loader scripts, model files) ran
        # under the policy too: its SIMD probe and compile need 'wasm-unsafe-eval'.
        page.wait_for_function("() => ['on', 'failed'].includes("
                               "document.body.dataset.handLocator)", timeout=60_000)
        assert page.get_attribute("body", "data-hand-locator") == "on"
        # ... with the full landmark model, the one `signlive locate` ran over the photos.
        models = [url.rsplit("/", 1)[-1] for url in requested if url.endswith(".tflite")]
        assert models == ["hand_landmark_full.tflite"], models
        _assert_clean(page)
    finally:
        page.context.close()


def test_admin_pages_run_under_the_csp(server, browser):
    page = _open(browser, server.url + "/admin")
    try:
        assert page.url.endswith("/admin/login")
        _assert_clean(page)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/admin")
        page.wait_for_selector("#models-table tr[data-model]", timeout=15_000)
        _assert_clean(page)
    finally:
        page.context.close()
