"""Faults: a killed training process, a corrupt model on disk, a huge run history, a server
restart under connected clients. Each is the real thing (processes, files, sockets).

The kill of a process that is deep in its epochs is tests/test_jobs.py's
test_a_killed_training_process_fails_the_run_and_serving_goes_on; here the kill lands as soon
as the process is running, and /metrics is checked too.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
import socketio
from adminkit import (
    close_app,
    frame_jpeg,
    hang_up,
    login,
    login_requests,
    settings,
    wait_for,
)
from serverkit import LiveServer

from webapp import config, create_app
from webapp.admin.runstore import RunStore

ROOT = Path(__file__).resolve().parent.parent


# --- kill -9 a training process ---------------------------------------------------------------

def test_a_training_process_killed_mid_run_fails_the_run_and_serving_goes_on(tmp_path,
                                                                             two_models):
    app = create_app(settings(tmp_path, two_models))
    try:
        with LiveServer(app) as server:
            http = requests.Session()
            csrf = login_requests(http, server.url)
            response = http.post(f"{server.url}/api/runs", headers={"X-CSRFToken": csrf},
                                 json={"arch": "cnn", "epochs": 50, "limit": 3000,
                                       "name": "doomed"})
            assert response.status_code == 202, response.text
            run_id = response.json()["id"]
            jobs = app.extensions["signlive.jobs"]
            # The child is alive and talking (its first log line) before it is killed.
            wait_for(lambda: (live := jobs.live_state(run_id)) and live["log"][1:], 60,
                     "the training process to report")
            pid = jobs.live_state(run_id)["pid"]
            os.kill(pid, signal.SIGKILL)
            run = wait_for(lambda: (r := http.get(f"{server.url}/api/runs/{run_id}").json())
                           ["status"] != "running" and r, 60, "the run to end")
            assert run["status"] == "failed" and "SIGKILL" in run["error"], run
            assert not (two_models / "doomed.json").exists()

            answers = []
            live = socketio.Client(reconnection=False)
            live.on("prediction", answers.append, namespace="/live")
            live.connect(server.url, namespaces=["/live"], transports=["websocket"])
            try:
                live.emit("frame", {"id": 1, "image": frame_jpeg()}, namespace="/live")
                wait_for(lambda: answers, 30, "a prediction after the kill")
            finally:
                hang_up(live)
            metrics = http.get(f"{server.url}/metrics").text
            assert 'signlive_training_runs{status="failed"} 1.0' in metrics
            assert 'signlive_training_runs{status="running"} 0.0' in metrics
    finally:
        close_app(app)


# --- a corrupt model on disk ------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scramble_weights(path: Path) -> None:
    """A valid zip whose weights file is garbage of the right size."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info.filename) for info in source.infolist()}
    for name in members:
        if name.endswith(".h5"):
            members[name] = np.random.default_rng(0).bytes(len(members[name]))
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)


def _wrong_classes(path: Path) -> None:
    """A perfectly loadable Keras model with 10 outputs instead of 24."""
    import keras

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(path)


def _bad_metadata(path: Path) -> None:
    path.with_suffix(".json").write_text("{not json")


def _wrong_input_size(path: Path) -> None:
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps(dict(json.loads(meta.read_text()), input_size=64)))


CORRUPTIONS = {"truncated": _truncate, "zeroed": lambda p: p.write_bytes(bytes(p.stat().st_size)),
               "scrambled-weights": _scramble_weights, "10-classes": _wrong_classes,
               "bad-metadata": _bad_metadata, "wrong-input-size": _wrong_input_size}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupt_activated_model_is_refused_at_restart(tmp_path, two_models, corrupt, caplog):
    """The admin activated `other`; its file is damaged; the restarted server says so and
    serves `default` (the model it is configured with) instead of garbage."""
    folder = tmp_path / "models"
    shutil.copytree(two_models, folder)
    app = create_app(settings(tmp_path, folder))
    try:
        client = app.test_client()
        client.environ_base["HTTP_X_CSRFTOKEN"] = login(client)
        assert client.post("/api/models/other/activate").status_code == 200
    finally:
        close_app(app)
    corrupt(folder / "other.keras")
    caplog.clear()
    caplog.set_level(logging.INFO, logger="signlive")
    app = create_app(settings(tmp_path, folder))  # the restart, on the same instance folder
    try:
        state = app.extensions["signlive"]
        assert state.model_name == "default"
        assert "'other'" in caplog.text and "cannot be served" in caplog.text
        assert app.test_client().get("/healthz").get_json()["model"] == "default"
        assert '"event": "startup"' in caplog.text and '"model": "default"' in caplog.text
    finally:
        close_app(app)


@pytest.mark.parametrize("corrupt", [_truncate, _wrong_classes], ids=["truncated", "10-classes"])
def test_a_corrupt_configured_model_falls_back_to_the_shipped_default(
        tmp_path, two_models, monkeypatch, corrupt, caplog):
    """SIGNLIVE_MODEL names a damaged file: refused with a clear log line; the shipped
    default (models/default.keras, here a stand-in) serves instead."""
    shipped = tmp_path / "shipped"
    shutil.copytree(two_models, shipped)
    monkeypatch.setattr(config, "DEFAULT_MODELS_DIR", shipped)
    folder = tmp_path / "models"
    shutil.copytree(two_models, folder)
    corrupt(folder / "other.keras")
    app = create_app(settings(tmp_path, folder, ACTIVE_MODEL="other"))
    try:
        assert app.extensions["signlive"].model_name == "default"
        assert "refusing model 'other'" in caplog.text
        assert "serving the shipped default" in caplog.text
    finally:
        close_app(app)


# --- a thousand runs ----------------------------------------------------------------------------

def _fill(store: RunStore, n: int) -> None:
    """`n` finished runs, each with 30 epochs, per-class metrics and a confusion matrix."""
    epochs = [{"epoch": e, "loss": 0.1, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8,
               "seconds": 1.0} for e in range(1, 31)]
    per_class = {chr(65 + i): {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 300}
                 for i in range(24)}
    confusion = [[300 if i == j else 1 for j in range(24)] for i in range(24)]
    params = {"arch": "cnn", "epochs": 30, "batch_size": 128, "learning_rate": 0.001,
              "augment": True, "early_stopping": 0}
    for i in range(n):
        run_id = store.create(f"run-{i}", params, status="running")
        store.finish(run_id, ("succeeded", "failed", "cancelled")[i % 3], epochs=epochs,
                     per_class=per_class, confusion=confusion, test_accuracy=0.99,
                     log=[{"t": 0, "line": "x" * 80}] * 50)


def test_a_thousand_runs_keep_the_list_and_the_dashboard_bounded(tmp_path, two_models):
    """What the history costs a request must not grow with the history: the run list is one
    page (limit/offset) of summary columns, the dashboard embeds no runs at all."""
    app = create_app(settings(tmp_path, two_models))
    try:
        store = app.extensions["signlive.jobs"].store
        client = app.test_client()
        login(client)
        sizes = {}
        for total in (150, 1000):
            _fill(store, total - store.count())
            start = time.perf_counter()
            page = client.get("/api/runs")
            runs_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            dashboard = client.get("/admin")
            admin_ms = (time.perf_counter() - start) * 1000
            assert page.status_code == 200 and dashboard.status_code == 200
            data = page.get_json()
            assert data["total"] == total
            sizes[total] = (len(page.data), len(dashboard.data))
            print(f"{total} runs: GET /api/runs {runs_ms:.0f} ms ({len(page.data)} bytes), "
                  f"GET /admin {admin_ms:.0f} ms ({len(dashboard.data)} bytes)")
        # A page is a page, however long the history (ids grow a digit: a few bytes).
        assert sizes[1000][0] <= sizes[150][0] * 1.01 and sizes[1000][1] == sizes[150][1]
        rows = data["runs"]
        assert 1 <= len(rows) <= 100 and rows[0]["id"] > rows[-1]["id"]  # newest first
        assert not {"epochs", "confusion", "per_class", "log"} & set(rows[0])
        # Every run can still be reached, page by page, and in full by id.
        seen = set()
        for offset in range(0, 1000, 250):
            seen |= {r["id"] for r in client.get(f"/api/runs?limit=250&offset={offset}")
                     .get_json()["runs"]}
        assert len(seen) == 1000
        detail = client.get(f"/api/runs/{min(seen)}").get_json()
        assert len(detail["epochs"]) == 30 and len(detail["confusion"]) == 24
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'signlive_training_runs{status="succeeded"} 334.0' in metrics
    finally:
        close_app(app)


# --- restart under connected clients ------------------------------------------------------------

def _gunicorn(port: int, models: Path, instance_env: dict) -> subprocess.Popen:
    from test_gunicorn import gunicorn_command

    env = dict(os.environ, SIGNLIVE_MODELS=str(models), SIGNLIVE_MODEL="default",
               SIGNLIVE_SECRET_KEY="a-test-secret-key-for-restarts",
               SIGNLIVE_ADMIN_PASSWORD="test-password", TF_CPP_MIN_LOG_LEVEL="2",
               **instance_env)
    return subprocess.Popen(gunicorn_command(port), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    def healthy():
        assert process.poll() is None, f"gunicorn exited with {process.returncode}"
        try:
            return requests.get(f"{url}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    wait_for(healthy, timeout, "gunicorn to serve", interval=0.3)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(20)


def test_clients_reconnect_by_themselves_after_a_server_restart(two_models, tmp_path):
    """kill -9 the production server under a connected client, start it again on the same
    port: the client reconnects on its own and gets predictions again."""
    from conftest import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    answers: list[dict] = []
    sio = socketio.Client(reconnection=True, reconnection_delay=0.3, reconnection_delay_max=1.0)
    sio.on("prediction", answers.append, namespace="/live")
    server = _gunicorn(port, two_models, {"SIGNLIVE_INSTANCE": str(tmp_path)})
    try:
        _wait_healthy(url, server)
        sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10)
        first_sid = sio.get_sid("/live")
        sio.emit("frame", {"id": 1, "image": frame_jpeg()}, namespace="/live")
        wait_for(lambda: answers, 30, "a first prediction")

        workers = _children_of(server.pid)
        assert workers, "no gunicorn worker found"
        for pid in (server.pid, *workers):  # master and worker die at once, sockets and all
            os.kill(pid, signal.SIGKILL)
        server.wait(20)
        wait_for(lambda: not sio.connected or sio.get_sid("/live") != first_sid, 30,
                 "the client to notice the restart")
        server = _gunicorn(port, two_models, {"SIGNLIVE_INSTANCE": str(tmp_path)})
        _wait_healthy(url, server)
        wait_for(lambda: sio.connected and sio.get_sid("/live") not in (None, first_sid), 60,
                 "the client to reconnect by itself")
        answers.clear()
        sio.emit("frame", {"id": 2, "image": frame_jpeg(1)}, namespace="/live")
        wait_for(lambda: answers, 30, "a prediction after the restart")
        assert answers[0]["id"] == 2
    finally:
        try:
            sio.eio.disconnect(abort=True)
        finally:
            _stop(server)


def _children_of(pid: int) -> list[int]:
    """Processes whose parent was `pid` (a killed gunicorn master's orphaned worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
