"""The photo folder's status for the admin dashboard: photos, sources, cached hand boxes.

The dashboard asks on every page load, and the real folder holds some 28,000 photos, so the
answer must be cheap:

- Counting is a directory listing (`photofolder.list_photos`, the very listing a training run
  reads). It is redone only when the folder or one of its letter folders changed: their mtimes form
  the key (adding, removing or renaming a photo changes its folder's mtime), so a page load
  costs a few dozen stat calls.
- Box coverage needs every photo's sha256 (the key of `signlive locate`'s box cache). It is
  never computed in a request: a background thread computes it, started by the first request
  that finds no answer for the current (listing, box cache file mtime and size); that request
  and those after it say `boxes_pending` (with the last numbers, if the listing is the same),
  and the page asks again a few seconds later. Digests are remembered per (path, size, mtime)
  for the life of the process (`files.file_sha256`), so only the first pass reads all the
  photos (a few seconds for 200 MB); after `signlive locate` updates the cache, a pass is
  one JSON load and a lookup per photo. A photo rewritten in place, keeping its folder's
  mtime, keeps its old counts until the next listing change or restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from webapp.files import DataError, file_sha256
from webapp.train import photofolder
from webapp.train.locate import BoxCache, default_cache_path

log = logging.getLogger(__name__)


def _folder_key(folder: Path) -> tuple | None:
    """The folder's and its subfolders' mtimes: changes whenever a photo is added, removed or
    renamed. None when the folder cannot be read."""
    try:
        top = folder.stat().st_mtime_ns
        with os.scandir(folder) as entries:
            subs = sorted((entry.name, entry.stat().st_mtime_ns) for entry in entries
                          if not entry.name.startswith(".") and entry.is_dir())
    except OSError:
        return None
    return top, tuple(subs)


def _box_cache_key() -> tuple | None:
    """(path, mtime, size) of the hand-box cache file, ("off",) when the cache is disabled."""

    path = default_cache_path()
    if path is None:
        return ("off",)
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return str(path), stat.st_mtime_ns, stat.st_size


@dataclass
class _Listing:
    key: tuple | None
    ok: bool
    message: str
    paths: list[Path] = field(default_factory=list)
    sources: int = 0
    letters: int = 0
    skipped: int = 0


@dataclass
class _Coverage:
    key: tuple
    boxes: int = 0  # photos whose box is cached (a hand found, or none found)
    hands: int = 0  # ... of which with a hand
    unreadable: int = 0
    error: str | None = None


class PhotoFolderStatus:
    """What the dashboard says about one photo folder (see the module doc); thread-safe."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._listing: _Listing | None = None
        self._coverage: _Coverage | None = None
        self._worker: threading.Thread | None = None

    # -- counting ---------------------------------------------------------------------------

    def _list(self) -> _Listing:
        folder = self.folder
        key = _folder_key(folder)
        cached = self._listing
        if key is not None and cached is not None and cached.key == key:
            return cached
        if not folder.exists():
            return _Listing(None, False, f"{folder}: photo folder not found; set "
                                         "SIGNLIVE_PHOTOS to a folder of "
                                         "<LETTER>/<source>_<n>.jpg photos")
        if not folder.is_dir():
            return _Listing(None, False, f"{folder}: not a folder")
        try:
            found, skipped = photofolder.list_photos(folder)
        except OSError as exc:
            return _Listing(None, False, f"{folder}: cannot read the photo folder: "
                                         f"{exc.strerror or exc}")
        paths = [path for path, _ in found]
        sources = {photofolder.photo_source(path) for path in paths} - {""}
        letters = {label for _, label in found}
        if not paths:
            listing = _Listing(key, False, f"{folder}: no photos in it (expected "
                                           "<LETTER>/<source>_<n>.jpg|.jpeg|.png)",
                               skipped=len(skipped))
        else:
            extra = f"; {len(skipped):,} other entries skipped" if skipped else ""
            listing = _Listing(key, True, f"{len(paths):,} photos of {len(letters)} letters "
                                          f"from {len(sources):,} sources in {folder}{extra}",
                               paths, len(sources), len(letters), len(skipped))
        with self._lock:
            self._listing = listing
        return listing

    # -- box coverage -----------------------------------------------------------------------

    def _measure(self, listing: _Listing, key: tuple) -> None:
        """The worker: count the photos of `listing` whose hand box is cached."""

        coverage = _Coverage(key)
        try:
            cache = BoxCache.load()
            for path in listing.paths:
                try:
                    digest = file_sha256(path)  # remembered per (path, size, mtime)
                except DataError:
                    coverage.unreadable += 1
                    continue
                if digest in cache:
                    coverage.boxes += 1
                    coverage.hands += cache.get(digest) is not None
        except Exception as exc:  # a status must not take the dashboard down
            log.exception("could not measure the hand-box coverage of %s", self.folder)
            coverage.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._coverage = coverage

    def _coverage_for(self, listing: _Listing, wait: float) -> tuple[_Coverage | None, bool]:
        """(coverage to show, pending): the current one, else the last one of the same
        listing (pending), starting the worker unless it is running; waits up to `wait` s."""
        key = (listing.key, _box_cache_key())
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                current = self._coverage
                if current is not None and current.key == key:
                    return current, False
                worker = self._worker
                if worker is None or not worker.is_alive():
                    worker = self._worker = threading.Thread(
                        target=self._measure, args=(listing, key), daemon=True,
                        name="signlive-photo-status")
                    worker.start()
            left = deadline - time.monotonic()
            if left <= 0:
                break
            worker.join(left)  # it may have been measuring an older key: then go round again
        stale = current if current is not None and current.key[0] == listing.key else None
        return stale, True

    # -- the answer -------------------------------------------------------------------------

    def summary(self, boxes: bool = True, wait: float = 0.0) -> dict:
        """The folder's status for /api/data. `boxes`: include the hand-box coverage (else
        only the counts; nothing is started). `wait`: seconds to wait for the coverage."""
        listing = self._list()
        result: dict = {"ok": listing.ok, "path": str(self.folder), "message": listing.message,
                        "photos": len(listing.paths), "sources": listing.sources,
                        "letters": listing.letters, "skipped": listing.skipped,
                        "locate_command": f"signlive locate {self.folder}"}
        if not boxes or not listing.ok:
            return result
        coverage, pending = self._coverage_for(listing, wait)
        result["boxes_pending"] = pending
        result["boxes"] = coverage.boxes if coverage is not None else None
        result["hands"] = coverage.hands if coverage is not None else None
        result["boxes_ready"] = (not pending and coverage is not None and coverage.error is None
                                 and coverage.boxes + coverage.unreadable >= len(listing.paths))
        result["boxes_message"] = self._boxes_message(listing, coverage, pending)
        return result

    def _boxes_message(self, listing: _Listing, coverage: _Coverage | None,
                       pending: bool) -> str:
        total = len(listing.paths)
        if _box_cache_key() == ("off",):
            return ("The hand-box cache is off (SIGNLIVE_CACHE=off): the hand crop cannot be "
                    "used; the guide crop can.")
        if coverage is None:
            return "Checking which photos have a cached hand box…"
        if coverage.error:
            return f"Could not check the hand boxes: {coverage.error}"
        text = f"Hand boxes cached for {coverage.boxes:,} of {total:,} photos"
        if coverage.boxes:
            text += f" (a hand found in {coverage.hands:,})"
        if coverage.unreadable:
            text += f"; {coverage.unreadable:,} photos unreadable"
        if pending:
            return text + " (updating…)"
        if coverage.boxes + coverage.unreadable < total:
            text += (f". Run `signlive locate {self.folder}` before a run with the hand crop "
                     "(the guide crop needs no boxes).")
        else:
            text += ": the hand crop is ready."
        return text
