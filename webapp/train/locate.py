"""Hand boxes for photo folders, found by the page's own hand locator.

Live, the page finds the hand with MediaPipe Hands (static/js/hand-locator.js) and sends its
box with each frame. Training and evaluation must crop photos the same way, so
`signlive locate DIR` serves static/locate.html and the photos to headless Chromium, runs
that same JavaScript over every photo, and keeps each box in a cache keyed by the sha256 of
the photo's bytes (so copies and renamed files reuse it). Nothing here goes into the repo.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from webapp.config import PROJECT_ROOT
from webapp.files import DataError, cache_dir, file_sha256
from webapp.model.handshape import Hand

HANDS_VERSION = "0.4.1675469240"  # static/vendor/mediapipe-hands-<version>, hand-locator.js
RETRY_PADDING = 0.5  # hand-locator.js: the padded second look when the first finds no hand
DETECTOR = (f"mediapipe-hands-{HANDS_VERSION} full, one hand, detection 0.5, reset per photo, "
            f"padded retry {RETRY_PADDING}")
BOX_CACHE_VERSION = 2  # v2: the 21 landmarks and handedness beside each box
STATIC_DIR = PROJECT_ROOT / "static"
CHROMIUM = os.environ.get("SIGNLIVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu")
BATCH = 64  # photos per round trip to a page; the cache is saved after each


class LocateError(RuntimeError):
    """The locator could not run (no Chromium, no Playwright, a page that failed to load)."""


Box = tuple[int, int, int, int]


def default_cache_path() -> Path | None:
    """hand-boxes-v<N>.json in the data cache folder (None when $SIGNLIVE_CACHE is off)."""
    folder = cache_dir()
    return None if folder is None else folder / f"hand-boxes-v{BOX_CACHE_VERSION}.json"


@dataclass
class BoxCache:
    """sha256 of a photo -> its hand box [x, y, w, h] in its pixels, or None (no hand found),
    and, for a found hand, its landmarks (`hands`)."""

    path: Path | None
    boxes: dict[str, Box | None] = field(default_factory=dict)
    hands: dict[str, Hand] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> BoxCache:
        """The cache at `path` (default: default_cache_path()); unreadable or stale -> empty."""
        path = Path(path) if path is not None else default_cache_path()
        cache = cls(path)
        if path is None or not path.is_file():
            return cache
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return cache
        if not isinstance(saved, dict) or saved.get("detector") != DETECTOR:
            return cache  # boxes from another detector are not this method's boxes
        if not isinstance(saved.get("boxes"), dict):
            return cache
        for key, box in saved["boxes"].items():
            if box is None or (
                isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) for v in box)
            ):
                cache.boxes[key] = None if box is None else tuple(box)
        saved_hands = saved.get("hands")
        if isinstance(saved_hands, dict):
            for key, hand in saved_hands.items():
                parsed = Hand.parse(hand.get("landmarks"), hand.get("handedness")) if (
                    isinstance(hand, dict) and cache.boxes.get(key) is not None) else None
                if parsed is not None:
                    cache.hands[key] = parsed
        return cache

    def __contains__(self, digest: str) -> bool:
        return digest in self.boxes

    def get(self, digest: str) -> Box | None:
        return self.boxes.get(digest)

    def hand(self, digest: str) -> Hand | None:
        """The landmarks found with the box (None: no hand, or not located yet)."""
        return self.hands.get(digest)

    def save(self) -> None:
        """Atomically (temp file, then rename)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"detector": DETECTOR, "boxes": self.boxes,
                   "hands": {key: hand.to_json() for key, hand in self.hands.items()}}
        tmp = None
        try:
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, suffix=".tmp", delete=False
            ) as handle:
                tmp = handle.name
                json.dump(payload, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            if tmp is not None:  # never leave a half-written copy behind
                Path(tmp).unlink(missing_ok=True)
            raise


class _Handler(SimpleHTTPRequestHandler):
    """/static/... from the repo's static folder, /photos/... from the photo folder."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def __init__(self, *args, photos: Path, **kwargs) -> None:
        self.photos = photos
        super().__init__(*args, directory=str(STATIC_DIR), **kwargs)

    def translate_path(self, path: str) -> str:
        rel = unquote(urlsplit(path).path)
        for prefix, root in (("/static/", STATIC_DIR), ("/photos/", self.photos)):
            if rel.startswith(prefix):
                target = (root / rel[len(prefix) :]).resolve()
                if root.resolve() in target.parents:
                    return str(target)
        return str(STATIC_DIR / "missing")

    def log_message(self, *args) -> None:  # keep the progress line readable
        pass


def serve_photos(photos: Path) -> tuple[ThreadingHTTPServer, str]:
    """A local HTTP server for static/ and the photo folder, on a free port: (server, base URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, photos=photos))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def _run_pages(
    base: str, rels: Sequence[str], jobs: int, on_batch: Callable[[list, list], None]
) -> None:
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError as exc:
        raise LocateError("playwright is not installed (pip install playwright)") from exc
    if not Path(CHROMIUM).exists():
        raise LocateError(f"Chromium not found at {CHROMIUM} (set SIGNLIVE_CHROMIUM)")
    batches = [list(rels[i : i + BATCH]) for i in range(0, len(rels), BATCH)]
    queue: asyncio.Queue = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker(playwright) -> None:
        # One browser each: pages of one browser can share a renderer process, and so a core.
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS)
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/static/locate.html")
            ready = await page.evaluate("window.locatorReady")
            if ready is not True:
                raise LocateError(f"the hand locator did not start in Chromium: {ready}")
            while not queue.empty():
                batch = queue.get_nowait()
                urls = [f"{base}/photos/{quote(rel)}" for rel in batch]
                results = await page.evaluate("urls => window.locateBatch(urls)", urls)
                on_batch(batch, results)
        finally:
            await browser.close()

    try:
        async with async_playwright() as playwright:
            await asyncio.gather(*(worker(playwright) for _ in range(max(1, jobs))))
    except PlaywrightError as exc:
        raise LocateError(f"Chromium failed: {str(exc).splitlines()[0]}") from exc


@dataclass
class LocateReport:
    photos: int = 0
    cached: int = 0
    located: int = 0
    with_hand: int = 0
    errors: list[str] = field(default_factory=list)


def locate_photos(
    folder: str | os.PathLike,
    files: Iterable[str | os.PathLike],
    cache: BoxCache,
    jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> LocateReport:
    """Find the hand box of every file (under `folder`) not yet in `cache`; save as it goes."""
    folder = Path(folder).resolve()
    report = LocateReport()
    todo: dict[str, str] = {}
    for item in files:
        path = Path(item).resolve()
        report.photos += 1
        try:
            digest = file_sha256(path)  # the cache key: sha256 of the photo's bytes
        except DataError as exc:
            report.errors.append(str(exc))
            continue
        if digest in cache:
            report.cached += 1
        else:
            todo[path.relative_to(folder).as_posix()] = digest
    if not todo:
        return report
    lock = threading.Lock()
    unreadable = len(report.errors)  # files never sent to the page: not part of the progress

    def on_batch(batch: list[str], results: list[dict]) -> None:
        with lock:
            for rel, result in zip(batch, results, strict=True):
                if "error" in result:
                    report.errors.append(f"{folder / rel}: {result['error']}")
                    continue
                box = result.get("box")
                digest = todo[rel]
                cache.boxes[digest] = None if box is None else tuple(int(v) for v in box)
                hand = Hand.parse(result.get("landmarks"), result.get("handedness"))
                if box is not None and hand is not None:
                    cache.hands[digest] = hand
                report.located += 1
                report.with_hand += box is not None
            cache.save()
            if progress:
                progress(report.located + len(report.errors) - unreadable, len(todo))

    server, base = serve_photos(folder)
    try:
        asyncio.run(_run_pages(base, list(todo), jobs, on_batch))
    finally:
        server.shutdown()
        server.server_close()
    return report
