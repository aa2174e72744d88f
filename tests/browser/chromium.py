"""Launching Debian's headless Chromium with a fake camera for the live/kiosk page tests."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def playwright():
    """One Playwright driver per test module (the sync API allows one at a time)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser-deps` installs it")
    with sync_api.sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def chromium(pw, video: Path | None, *, grant_camera: bool = True, extra_args=()):
    """A browser whose camera plays `video` (a .y4m, looped); without grant_camera the
    permission prompt is left unanswered, which headless Chromium treats as a denial."""
    args = [*BASE_ARGS, "--use-fake-device-for-media-stream"]
    if grant_camera:
        args.append("--use-fake-ui-for-media-stream")
    if video is not None:
        args.append(f"--use-file-for-fake-video-capture={video}")
    args.extend(extra_args)
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
    try:
        yield browser
    finally:
        browser.close()


def open_page(browser, url: str, viewport: dict = DESKTOP):
    """A new page in its own context, collecting script errors in `page.errors`."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # Resource failures are checked by URL below (Chromium asks for /favicon.ico regardless).
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in
            msg.text and page.errors.append(msg.text))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and page.errors.append(f"HTTP {r.status} for {r.url}"))
    page.goto(url)
    return page


def wait_connected_and_running(page, timeout_ms: int = 20_000) -> None:
    """The camera delivers frames and the /live connection is up (green dot)."""
    page.wait_for_function(
        "() => document.body.dataset.camera === 'running' && "
        "document.getElementById('video').videoWidth > 0 && "
        "document.getElementById('status').dataset.state === 'connected'",
        timeout=timeout_ms)
