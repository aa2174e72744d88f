"""Training jobs: one run at a time, in its own process, with its history in SQLite.

Serving must never wait on training, nor die with it, so a run is a child process (the "spawn"
start method: a fresh interpreter, no copy of the server's threads, sockets or TensorFlow
state). The child does the run (webapp/admin/runwork.py: train, fuse, score the held-out photos) and
sends every progress event down a one-way pipe; a
relay thread in the server reads the pipe, commits what matters to SQLite at once (so a crash
or a kill loses nothing already recorded) and hands each event to `emit` (the /admin
namespace). A pipe rather than a Queue: once the server has closed its copy of the sending end,
a child that dies, even by SIGKILL, shows up as end-of-file instead of a silent wait.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from webapp.admin.runparams import ParamError, describe_data, image_model_name
from webapp.admin.runstore import RunStore
from webapp.model.registry import ModelError, Registry

log = logging.getLogger(__name__)
LOG_LINES = 200


Emit = Callable[[str, dict], None]


class Busy(RuntimeError):
    """Another run is queued or running (one at a time: the machine has one GPU)."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} is still running: wait for it or cancel it")
        self.run_id = run_id


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
        from webapp.admin import runwork  # deferred: it loads Keras (in this process only)
        from webapp.train.training import TrainingCancelled  # deferred: likewise

        try:
            name, metadata = runwork.run(params, send, should_stop)
            send({"type": "result", "name": name, "metadata": metadata})
        except TrainingCancelled:
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

    def unique_name(self, stem: str, stamp: bool = True) -> str:
        """`stem` + the time (`stamp`), + -2, -3... until no model (nor its image model) has it."""
        registry = Registry(self.models_dir)
        base = f"{stem}-{datetime.now():%Y%m%d-%H%M%S}" if stamp else stem
        name, n = base, 1
        while any(registry.exists(taken) for taken in (name, image_model_name(name))):
            n += 1
            name = f"{base}-{n}"
        return name

    @staticmethod
    def _model_names(name: str, params: dict) -> tuple[str, ...]:
        """The models the run registers: its own, and first its image model for hand_shape."""
        return (name, image_model_name(name)) if params.get("hand_shape") else (name,)

    def start(self, params: dict) -> int:
        """Record a run and start its process; Busy if one is in progress. Returns its id."""

        with self._lock:
            if self._current is not None:
                raise Busy(self._current.run_id)
            active = self.store.active()
            if active is not None:  # another server process on the same instance folder
                raise Busy(active["id"])
            stem = {"fuse": f"{params.get('base')}-handshape",
                    "motion": "motion"}.get(params.get("kind"), params["arch"])
            name = params.get("name") or self.unique_name(stem, stamp=params.get("kind") != "fuse")
            for taken in self._model_names(name, params):
                if Registry(self.models_dir).exists(taken):
                    raise ParamError("name", f"a model named {taken!r} already exists",
                                     status=409)
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
        if params.get("kind") in ("fuse", "motion"):
            return f"{describe_data(params)}, {params['epochs']} epochs"
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
        elif kind == "end" and "val_accuracy" in event:  # the hand-shape branch fused
            self._log(run, f"hand shape fused: validation accuracy "
                           f"{_fmt(event.get('val_accuracy'))}; registered as {event.get('name')}")
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
            for name in self._model_names(run.name, run.params):
                self._remove_artifacts(name)
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

        for partial in self.models_dir.glob(f".{name}.partial-*"):
            with contextlib.suppress(OSError):
                partial.unlink()
        registry = Registry(self.models_dir)
        with contextlib.suppress(ModelError, OSError):
            if registry.exists(name):
                registry.delete(name)


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
