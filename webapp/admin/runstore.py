"""The admin's run history in SQLite (the instance folder's runs.db): one row a run, its
epochs, log and outcome, committed as they happen so a crash loses nothing recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    epochs TEXT NOT NULL DEFAULT '[]',
    steps_per_epoch INTEGER,
    test_accuracy REAL,
    duration REAL,
    device TEXT,
    model_name TEXT,
    error TEXT,
    per_class TEXT,
    confusion TEXT,
    log TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""


_JSON_COLUMNS = ("params", "epochs", "per_class", "confusion", "log")
_SUMMARY_COLUMNS = ("id, name, params, status, created, started, finished, steps_per_epoch, "
                    "test_accuracy, duration, device, model_name, error, "
                    "json_array_length(epochs) AS epochs_done")


class RunStore:
    """The `runs` table. One short connection per call: safe from any thread."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock, contextlib.closing(self._connect()) as db, db:
            return db.execute(sql, args)

    @staticmethod
    def _decode(row: sqlite3.Row | None) -> dict | None:
        if row is None:
            return None
        run = dict(row)
        for key in _JSON_COLUMNS:
            if run.get(key) is not None:
                run[key] = json.loads(run[key])
        return run

    def create(self, name: str, params: dict, status: str = "queued") -> int:
        cursor = self._write(
            "INSERT INTO runs (name, params, status, created) VALUES (?, ?, ?, ?)",
            (name, json.dumps(params), status, time.time()))
        return int(cursor.lastrowid)

    def mark_interrupted(self) -> int:
        """Runs left queued/running by a previous server process: nothing runs them now."""
        cursor = self._write(
            "UPDATE runs SET status = 'interrupted', finished = COALESCE(finished, ?), "
            "error = COALESCE(error, 'the server stopped while this run was in progress') "
            "WHERE status IN ('queued', 'running')", (time.time(),))
        return cursor.rowcount

    def set_running(self, run_id: int) -> None:
        self._write("UPDATE runs SET status = 'running', started = ? WHERE id = ?",
                    (time.time(), run_id))

    def set_steps(self, run_id: int, steps: int) -> None:
        self._write("UPDATE runs SET steps_per_epoch = ? WHERE id = ?", (steps, run_id))

    def append_epoch(self, run_id: int, row: dict) -> None:
        self._write("UPDATE runs SET epochs = json_insert(epochs, '$[#]', json(?)) WHERE id = ?",
                    (json.dumps(row), run_id))

    def finish(self, run_id: int, status: str, **fields: Any) -> None:
        """Final status plus any of: test_accuracy, device, model_name, error, per_class,
        confusion, log, epochs (JSON-encoded here)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        now = time.time()
        values: dict[str, Any] = {"status": status, "finished": now}
        for key, value in fields.items():
            values[key] = json.dumps(value) if key in _JSON_COLUMNS else value
        assignments = ", ".join(f"{key} = ?" for key in values)
        self._write(
            f"UPDATE runs SET {assignments}, duration = ? - COALESCE(started, created) "
            "WHERE id = ?", (*values.values(), now, run_id))

    def get(self, run_id: int) -> dict | None:
        with contextlib.closing(self._connect()) as db:
            return self._decode(db.execute("SELECT * FROM runs WHERE id = ?",
                                           (run_id,)).fetchone())

    def list(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Newest first, without the bulky columns (epochs, per-class, confusion, log)."""
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_SUMMARY_COLUMNS} FROM runs ORDER BY id DESC "
                              "LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [self._decode(row) for row in rows]

    def active(self) -> dict | None:
        with contextlib.closing(self._connect()) as db:
            row = db.execute(f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE status IN "
                             "('queued', 'running') ORDER BY id LIMIT 1").fetchone()
        return self._decode(row)

    def count(self) -> int:
        with contextlib.closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def counts_by_status(self) -> dict[str, int]:
        with contextlib.closing(self._connect()) as db:
            rows = db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: n for status, n in rows})
        return counts
