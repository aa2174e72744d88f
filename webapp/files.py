"""Where signlive keeps derived files, and how it names a file's content: the cache folder,
a file's sha256 (remembered per path, size and mtime) and a photo set's digest lines, and
DataError, the error for a data file or folder that cannot be used.

Below the data sets (webapp/train/) and webapp/train/locate.py, which both need these (the
parse cache and the photos' box cache), so neither has to import the other to get them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class DataError(ValueError):
    """A data file or folder that cannot be used; the message names the file (and line)."""


def cache_dir() -> Path | None:
    """$SIGNLIVE_CACHE (\"off\" disables), else $XDG_CACHE_HOME/signlive or ~/.cache/signlive."""
    configured = os.environ.get("SIGNLIVE_CACHE")
    if configured:
        return None if configured.lower() in ("off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "signlive"


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def photo_line(relative: str, file_digest: str) -> bytes:
    """One photo's part of a photo set's sha256 (what `evaluate` prints, the benches name)."""
    return f"{relative}\0{file_digest}\n".encode()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file as stored, remembered per (path, size, mtime) for this process."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _SHA_MEMO:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            _SHA_MEMO[key] = digest.hexdigest()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return _SHA_MEMO[key]


