"""Training jobs: one run at a time, in its own process, with its history in SQLite.

Serving must never wait on training, nor die with it, so a run is a child process (the "spawn"
start method: a fresh interpreter, no copy of the server's threads, sockets or TensorFlow
state). The child calls `training.train` and sends every progress event down a one-way pipe; a
relay thread in the server reads the pipe, commits what matters to SQLite at once (so a crash
or a kill loses nothing already recorded) and hands each event to `emit` (the /admin
namespace). A pipe rather than a Queue: once the server has closed its copy of the sending end,
a child that dies, even by SIGKILL, shows up as end-of-file instead of a silent wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
LOG_LINES = 200

Emit = Callable[[str, dict], None]

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


class ParamError(ValueError):
    """A bad run parameter; `field` names it so the API and the form can point at it."""

    def __init__(self, field_name: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.status = status


class Busy(RuntimeError):
    """Another run is queued or running (one at a time: the machine has one GPU)."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} is still running: wait for it or cancel it")
        self.run_id = run_id


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


# --- parameters -----------------------------------------------------------------------------

_INT_FIELDS = ("epochs", "batch_size", "early_stopping", "input_size")
_CHOICE_FIELDS = ("train_on", "crop", "split")  # strings from a fixed list (TrainConfig's)
RUN_FIELDS = ("arch", "epochs", "batch_size", "learning_rate", "augment", "name",
              "early_stopping", "negatives", "train_on", "crop", "split", "input_size")


def validate_params(body: object, *, allow_limit: bool = False, default_limit: int = 0) -> dict:
    """The run parameters in `body` (a JSON object), checked; ParamError names the bad field.

    Types are checked strictly (true is not an integer, "5" is not a number); bounds and the
    architecture list are training.TrainConfig's own checks, so the form, the CLI and the API
    accept exactly the same runs. `limit` (train on the first N rows) exists for tests only.
    """
    from webapp.training import ConfigError, TrainConfig

    if not isinstance(body, dict):
        raise ParamError("body", "expected a JSON object of run parameters")
    allowed = RUN_FIELDS + (("limit",) if allow_limit else ())
    for key in body:
        if key not in allowed:
            raise ParamError(str(key)[:64], f"unknown field; allowed: {', '.join(allowed)}")
    defaults = TrainConfig()
    params: dict[str, Any] = {}
    for key in ("arch", *_INT_FIELDS, "learning_rate", "augment", "negatives",
                *_CHOICE_FIELDS):
        params[key] = body.get(key, getattr(defaults, key))
    params["limit"] = body.get("limit", default_limit)
    for key in ("arch", *_CHOICE_FIELDS):
        if not isinstance(params[key], str):
            raise ParamError(key, f"must be a string, got {params[key]!r}")
    for key in (*_INT_FIELDS, "limit"):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(key, f"must be an integer, got {value!r}")
    lr = params["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
        raise ParamError("learning_rate", f"must be a number, got {lr!r}")
    params["learning_rate"] = float(lr)
    neg = params["negatives"]
    if isinstance(neg, bool) or not isinstance(neg, (int, float)) or not math.isfinite(neg):
        raise ParamError("negatives", f"must be a number, got {neg!r}")
    params["negatives"] = float(neg)
    if not isinstance(params["augment"], bool):
        raise ParamError("augment", f"must be true or false, got {params['augment']!r}")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ParamError("name", f"must be a string, got {name!r}")
    params["name"] = (name.strip() or None) if isinstance(name, str) else None
    try:
        TrainConfig(**params).validate()
    except ConfigError as exc:
        raise ParamError(exc.field, str(exc).split(": ", 1)[-1]) from None
    if not params["limit"]:
        del params["limit"]
    return params


def describe_data(params: dict) -> str:
    """What a run trains on, in words: "Sign MNIST", "photos (hand crop, split photos-v1)",
    "Sign MNIST + photos (...)". Runs recorded before photo training trained on Sign MNIST."""
    train_on = params.get("train_on", "csv")
    if train_on == "csv":
        return "Sign MNIST"
    photos = f"photos ({params.get('crop', 'hand')} crop, split {params.get('split', '?')})"
    return photos if train_on == "photos" else f"Sign MNIST + {photos}"


# --- the child process ----------------------------------------------------------------------

def _child_main(params: dict, conn, stop_event) -> None:
    """Entry point of the training process: train, reporting every event down `conn`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # leave room for serving
    parent = os.getppid()

    def send(event: dict) -> None:
        conn.send(event)

    def should_stop() -> bool:
        # An orphan (the server was killed) stops too: no one would record its result.
        return stop_event.is_set() or os.getppid() != parent

    code = 0
    try:
        send({"type": "log", "message": f"training process {os.getpid()} started; "
                                        "loading TensorFlow and the data"})
        from webapp import training

        try:
            result = training.train(training.TrainConfig(**params), progress=send,
                                    should_stop=should_stop)
            send({"type": "result", "name": result.name, "metadata": result.metadata})
        except training.TrainingCancelled:
            send({"type": "cancelled"})
    except Exception as exc:  # everything becomes the run's error message
        log.exception("training run failed")
        known = isinstance(exc, (ValueError, OSError, RuntimeError))
        message = str(exc) if known and str(exc) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            send({"type": "error", "message": message})
        code = 1
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    if code:
        raise SystemExit(code)


# --- the manager ----------------------------------------------------------------------------

@dataclass
class _Run:
    run_id: int
    name: str
    params: dict
    process: Any
    conn: Any
    stop_event: Any
    started: float = field(default_factory=time.monotonic)
    cancel_at: float | None = None
    terminated_at: float | None = None
    outcome: dict | None = None
    steps_per_epoch: int | None = None
    last_progress: dict | None = None
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    thread: threading.Thread | None = None


def _exit_description(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


class JobManager:
    """Starts, relays, cancels and records training runs (one at a time)."""

    def __init__(self, store: RunStore, *, models_dir: str | os.PathLike,
                 data_dir: str | os.PathLike, photos_dir: str | os.PathLike | None = None,
                 emit: Emit | None = None, cancel_grace_s: float = 5.0) -> None:
        self.store = store
        self.models_dir = Path(models_dir)
        self.data_dir = Path(data_dir)
        # None: the child's own default ($SIGNLIVE_PHOTOS or ../shared/photos).
        self.photos_dir = Path(photos_dir) if photos_dir is not None else None
        self.emit = emit or (lambda event, payload: None)
        self.cancel_grace_s = cancel_grace_s
        self._lock = threading.Lock()
        self._current: _Run | None = None
        stale = store.mark_interrupted()
        if stale:
            log.warning("marked %d run(s) left in progress by a previous server as interrupted",
                        stale)

    # -- queries ---------------------------------------------------------------------------

    def current(self) -> _Run | None:
        return self._current

    def live_state(self, run_id: int) -> dict | None:
        """In-memory extras of the running run (latest progress, log) for a page reload."""
        run = self._current
        if run is None or run.run_id != run_id:
            return None
        return {"pid": run.process.pid, "last_progress": run.last_progress,
                "steps_per_epoch": run.steps_per_epoch, "log": list(run.log),
                "cancelling": run.cancel_at is not None}

    # -- start -----------------------------------------------------------------------------

    def unique_name(self, arch: str) -> str:
        from webapp.registry import Registry

        registry = Registry(self.models_dir)
        base = f"{arch}-{datetime.now():%Y%m%d-%H%M%S}"
        name, n = base, 1
        while registry.exists(name):
            n += 1
            name = f"{base}-{n}"
        return name

    def start(self, params: dict) -> int:
        """Record a run and start its process; Busy if one is in progress. Returns its id."""
        from webapp.registry import Registry

        with self._lock:
            if self._current is not None:
                raise Busy(self._current.run_id)
            active = self.store.active()
            if active is not None:  # another server process on the same instance folder
                raise Busy(active["id"])
            name = params.get("name") or self.unique_name(params["arch"])
            if Registry(self.models_dir).exists(name):
                raise ParamError("name", f"a model named {name!r} already exists", status=409)
            child_params = dict(params, name=name, data_dir=str(self.data_dir),
                                models_dir=str(self.models_dir),
                                photos_dir=str(self.photos_dir) if self.photos_dir else None)
            run_id = self.store.create(name, {k: v for k, v in params.items() if k != "name"})
            ctx = multiprocessing.get_context("spawn")
            receiver, sender = ctx.Pipe(duplex=False)
            stop_event = ctx.Event()
            process = ctx.Process(target=_child_main, args=(child_params, sender, stop_event),
                                  name=f"signlive-train-{run_id}", daemon=True)
            try:
                process.start()
            except Exception as exc:
                receiver.close()
                sender.close()
                self.store.finish(run_id, "failed", error=f"could not start the process: {exc}")
                raise
            sender.close()  # the child holds the only sending end now: its death reads as EOF
            self.store.set_running(run_id)
            run = _Run(run_id, name, params, process, receiver, stop_event)
            self._current = run
            run.thread = threading.Thread(target=self._relay, args=(run,),
                                          name=f"signlive-relay-{run_id}", daemon=True)
            run.thread.start()
        self.emit("run_status", {"run_id": run_id, "status": "running", "name": name})
        self._log(run, f"run {run_id} started: {self._describe(params)} -> model {name}")
        return run_id

    @staticmethod
    def _describe(params: dict) -> str:
        text = (f"{params['arch']}, {params['epochs']} epochs, batch {params['batch_size']}, "
                f"lr {params['learning_rate']:g}, augment {'on' if params['augment'] else 'off'}")
        text += f", input {params['input_size']} px, {describe_data(params)}"
        if params.get("limit"):
            text += f", first {params['limit']} rows"
        return text

    # -- cancel ----------------------------------------------------------------------------

    def cancel(self, run_id: int) -> bool:
        """Ask run `run_id` to stop; False when it is not the run in progress.

        The child stops at its next batch; if it has not exited after `cancel_grace_s` the
        relay terminates it (then kills it). Either way the run ends as cancelled.
        """
        run = self._current
        if run is None or run.run_id != run_id:
            return False
        if run.cancel_at is None:
            run.cancel_at = time.monotonic()
            run.stop_event.set()
            self.emit("run_status", {"run_id": run_id, "status": "cancelling"})
            self._log(run, "cancel requested")
        return True

    def shutdown(self, timeout: float = 15.0) -> None:
        """Cancel the run in progress and wait for its relay to finish (tests, exit)."""
        run = self._current
        if run is None:
            return
        self.cancel(run.run_id)
        if run.thread is not None:
            run.thread.join(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run in progress (if any) has been recorded as finished."""
        run = self._current
        if run is not None and run.thread is not None:
            run.thread.join(timeout)

    # -- the relay -------------------------------------------------------------------------

    def _log(self, run: _Run, line: str) -> None:
        entry = {"t": time.time(), "line": line}
        run.log.append(entry)
        self.emit("run_log", {"run_id": run.run_id, **entry})

    def _relay(self, run: _Run) -> None:
        try:
            self._pump(run)
            self._finish(run)
        except Exception:  # the server must outlive any surprise here
            log.exception("relay of run %s failed", run.run_id)
            with contextlib.suppress(Exception):
                self.store.finish(run.run_id, "failed", error="internal error in the relay")
        finally:
            with contextlib.suppress(Exception):
                run.conn.close()
            with self._lock:
                if self._current is run:
                    self._current = None

    def _pump(self, run: _Run) -> None:
        """Read events until the child's end of the pipe closes (it exited or died)."""
        while True:
            self._enforce_cancel(run)
            try:
                if not run.conn.poll(0.2):
                    if not run.process.is_alive() and not run.conn.poll(0.2):
                        return
                    continue
                event = run.conn.recv()
            except (EOFError, OSError):
                return
            except Exception as exc:  # a message cut short by a kill
                log.warning("run %s: unreadable event (%s)", run.run_id, exc)
                return
            if isinstance(event, dict):
                self._handle(run, event)

    def _enforce_cancel(self, run: _Run) -> None:
        if run.cancel_at is None or not run.process.is_alive():
            return
        now = time.monotonic()
        if run.terminated_at is None and now - run.cancel_at > self.cancel_grace_s:
            log.warning("run %s did not stop within %.0f s: terminating it", run.run_id,
                        self.cancel_grace_s)
            run.terminated_at = now
            run.process.terminate()
        elif run.terminated_at is not None and now - run.terminated_at > 3:
            run.process.kill()

    def _handle(self, run: _Run, event: dict) -> None:
        kind = event.get("type")
        payload = {k: v for k, v in event.items() if k != "metadata"}
        if kind == "start":
            run.steps_per_epoch = event.get("steps_per_epoch")
            if isinstance(run.steps_per_epoch, int):
                self.store.set_steps(run.run_id, run.steps_per_epoch)
            self._log(run, f"training {event.get('arch')}: {event.get('epochs')} epochs of "
                           f"{event.get('steps_per_epoch')} steps")
        elif kind == "batch":
            run.last_progress = payload
        elif kind == "epoch":
            run.last_progress = payload
            row = {k: event.get(k) for k in ("epoch", "loss", "accuracy", "val_loss",
                                              "val_accuracy", "seconds")}
            self.store.append_epoch(run.run_id, row)
            self._log(run, "epoch {}/{}: loss {} acc {} | val loss {} val acc {} ({} s)".format(
                event.get("epoch"), event.get("epochs"), _fmt(event.get("loss")),
                _fmt(event.get("accuracy")), _fmt(event.get("val_loss")),
                _fmt(event.get("val_accuracy")), event.get("seconds")))
        elif kind == "end":
            self._log(run, f"evaluated on the test set: accuracy {_fmt(event.get('test_accuracy'))}"
                           f"; registered as {event.get('name')}")
        elif kind == "log":
            self._log(run, str(event.get("message", "")))
            return
        elif kind in ("result", "cancelled", "error"):
            run.outcome = event
            return
        else:
            return
        self.emit("run_progress", {"run_id": run.run_id, **payload})

    def _finish(self, run: _Run) -> None:
        run.process.join(10)
        if run.process.is_alive():
            run.process.kill()
            run.process.join(5)
        outcome = run.outcome or {}
        kind = outcome.get("type")
        if kind == "result":
            metadata = outcome.get("metadata") or {}
            status = "succeeded"
            fields = {"test_accuracy": metadata.get("test_accuracy"),
                      "device": metadata.get("device"), "model_name": outcome.get("name"),
                      "per_class": metadata.get("per_class"),
                      "confusion": metadata.get("confusion")}
            message = (f"run {run.run_id} succeeded: test accuracy "
                       f"{_fmt(fields['test_accuracy'])}, model {fields['model_name']} "
                       "registered (not active)")
        elif kind == "cancelled" or run.cancel_at is not None:
            status, fields, message = "cancelled", {}, f"run {run.run_id} cancelled"
        else:
            if kind == "error":
                error = str(outcome.get("message") or "training failed")
            else:
                error = (f"the training process {_exit_description(run.process.exitcode)} "
                         "before finishing")
            status, fields = "failed", {"error": error}
            message = f"run {run.run_id} failed: {error}"
        if status != "succeeded":
            self._remove_artifacts(run.name)
        self._log(run, message)
        log_lines = list(run.log)
        self.store.finish(run.run_id, status, log=log_lines, **fields)
        log.info(message)
        self.emit("run_status", {"run_id": run.run_id, "status": status,
                                 "name": run.name, **{k: v for k, v in fields.items()
                                                      if k in ("test_accuracy", "error",
                                                               "model_name")}})

    def _remove_artifacts(self, name: str) -> None:
        """Temp files a stopped save left behind, and a model registered by a run that did not
        end well (its name was new when the run started, so it is this run's own)."""
        from webapp.registry import ModelError, Registry

        for partial in self.models_dir.glob(f".{name}.partial-*"):
            with contextlib.suppress(OSError):
                partial.unlink()
        registry = Registry(self.models_dir)
        with contextlib.suppress(ModelError, OSError):
            if registry.exists(name):
                registry.delete(name)


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
