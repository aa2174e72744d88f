"""Training jobs end to end: a real server, real child processes, a real /admin client.

Each run trains a `cnn` for 1 epoch on the first few hundred rows, so it takes seconds.
"""

from __future__ import annotations

import os
import signal
import threading

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

from webapp import create_app
from webapp.admin.runparams import validate_params
from webapp.admin.runstore import RunStore

pytestmark = pytest.mark.slow

RUN = {"arch": "cnn", "epochs": 1, "batch_size": 32, "learning_rate": 0.002, "augment": False,
       "limit": 300}


class Admin:
    """A logged-in admin against a real server: HTTP session + /admin Socket.IO client."""

    def __init__(self, app, url: str) -> None:
        self.app = app
        self.url = url
        self.http = requests.Session()
        self.csrf = login_requests(self.http, url)
        self.events: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        for name in ("run_progress", "run_status", "run_log"):
            self.sio.on(name, self._recorder(name), namespace="/admin")
        self.sio.connect(url, namespaces=["/admin"], transports=["websocket"], wait_timeout=10,
                         headers={"Cookie": f"session={self.http.cookies['session']}"})

    def _recorder(self, name: str):
        def record(payload):
            with self.lock:
                self.events.append((name, payload))
        return record

    def seen(self, name: str, **match) -> list[dict]:
        with self.lock:
            return [p for n, p in self.events
                    if n == name and all(p.get(k) == v for k, v in match.items())]

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.http.post(f"{self.url}{path}", json=body,
                              headers={"X-CSRFToken": self.csrf})

    def get(self, path: str) -> dict:
        response = self.http.get(f"{self.url}{path}")
        response.raise_for_status()
        return response.json()

    def start(self, **overrides) -> int:
        response = self.post("/api/runs", dict(RUN, **overrides))
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def wait_status(self, run_id: int, statuses: tuple[str, ...], timeout: float = 180) -> dict:
        run = wait_for(lambda: (r := self.get(f"/api/runs/{run_id}"))["status"] in statuses
                       and r, timeout, f"run {run_id} to reach {statuses}", interval=0.2)
        # The relay emits the final status right after committing it.
        wait_for(lambda: self.seen("run_status", run_id=run_id, status=run["status"]), 10,
                 "the final run_status event")
        return run


@pytest.fixture
def admin(tmp_path, models_dir):
    app = create_app(settings(tmp_path, models_dir))
    with LiveServer(app) as server:
        client = Admin(app, server.url)
        try:
            yield client
        finally:
            hang_up(client.sio)
            close_app(app)


def test_a_run_streams_progress_and_registers_its_model(admin, models_dir):
    run_id = admin.start(name="tiny-cnn")
    # One run at a time.
    second = admin.post("/api/runs", RUN)
    assert second.status_code == 409
    assert second.json()["running"] == run_id

    run = admin.wait_status(run_id, ("succeeded", "failed"))
    assert run["status"] == "succeeded", run.get("error")
    kinds = [p["type"] for p in admin.seen("run_progress", run_id=run_id)]
    assert kinds[0] == "start" and "batch" in kinds and "epoch" in kinds and kinds[-1] == "end"
    epoch = admin.seen("run_progress", run_id=run_id, type="epoch")[0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "eta_s"} <= set(epoch)
    assert admin.seen("run_status", run_id=run_id, status="running")
    assert any("epoch 1/1" in p["line"] for p in admin.seen("run_log", run_id=run_id))

    # Recorded: parameters, per-epoch metrics, test results, device, model.
    assert run["params"]["arch"] == "cnn" and run["params"]["limit"] == 300
    assert run["params"]["negatives"] == 0.1  # the default: the model learns 'no sign' too
    assert [e["epoch"] for e in run["epochs"]] == [1]
    assert 0.0 <= run["test_accuracy"] <= 1.0
    assert len(run["per_class"]) == 24 and len(run["confusion"]) == 24
    assert sum(map(sum, run["confusion"])) == 7172
    assert run["device"] and run["model_name"] == "tiny-cnn" and run["duration"] > 0

    # Registered, not activated.
    models = admin.get("/api/models")
    assert models["active"] == "default"
    entry = next(m for m in models["models"] if m["name"] == "tiny-cnn")
    assert entry["active"] is False and entry["test_accuracy"] == run["test_accuracy"]
    assert (models_dir / "tiny-cnn.keras").is_file()
    # Its name is now taken.
    again = admin.post("/api/runs", dict(RUN, name="tiny-cnn"))
    assert again.status_code == 409 and again.json()["field"] == "name"


def test_cancel_stops_the_run_and_registers_nothing(admin, models_dir):
    run_id = admin.start(name="to-cancel", epochs=50, limit=3000)
    wait_for(lambda: admin.seen("run_progress", run_id=run_id, type="batch"), 120,
             "the first batch")
    response = admin.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202
    run = admin.wait_status(run_id, ("cancelled", "failed", "succeeded"), timeout=60)
    assert run["status"] == "cancelled"
    assert admin.seen("run_status", run_id=run_id, status="cancelling")
    assert not (models_dir / "to-cancel.json").exists()
    assert not list(models_dir.glob(".to-cancel*"))
    assert admin.post(f"/api/runs/{run_id}/cancel").status_code == 409
    # The slot is free again.
    assert admin.get("/api/runs")["active"] is None


def test_a_killed_training_process_fails_the_run_and_serving_goes_on(admin, models_dir):
    run_id = admin.start(name="to-kill", epochs=50, limit=3000)
    wait_for(lambda: admin.seen("run_progress", run_id=run_id, type="start"), 120,
             "the start event")
    pid = admin.get(f"/api/runs/{run_id}")["live"]["pid"]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)

    run = admin.wait_status(run_id, ("failed", "cancelled", "succeeded"), timeout=60)
    assert run["status"] == "failed"
    assert "SIGKILL" in run["error"]
    assert not (models_dir / "to-kill.json").exists()

    # The server still serves /live.
    answers: list[dict] = []
    live = socketio.Client(reconnection=False)
    live.on("prediction", answers.append, namespace="/live")
    live.connect(admin.url, namespaces=["/live"], transports=["websocket"], wait_timeout=10)
    try:
        live.emit("frame", {"id": 1, "image": frame_jpeg()}, namespace="/live")
        wait_for(lambda: answers, 30, "a prediction after the kill")
        assert answers[0]["id"] == 1 and answers[0]["model"] == "default"
    finally:
        hang_up(live)
    assert admin.get("/api/runs")["active"] is None


def test_a_restart_marks_unfinished_runs_interrupted(tmp_path, models_dir):
    store = RunStore(tmp_path / "instance" / "runs.db")
    params = validate_params({"arch": "cnn", "epochs": 1})
    running = store.create("was-running", params)
    store.set_running(running)
    store.append_epoch(running, {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1,
                                 "val_accuracy": 0.4, "seconds": 1.0})
    queued = store.create("was-queued", params)
    done = store.create("was-done", params)
    store.finish(done, "succeeded", test_accuracy=0.9)

    app = create_app(settings(tmp_path, models_dir))
    try:
        client = app.test_client()
        login(client)
        runs = {r["id"]: r for r in client.get("/api/runs").get_json()["runs"]}
        assert runs[running]["status"] == "interrupted"
        assert runs[queued]["status"] == "interrupted"
        assert runs[done]["status"] == "succeeded"
        detail = client.get(f"/api/runs/{running}").get_json()
        assert detail["epochs"][0]["loss"] == 1.0  # nothing recorded is lost
        assert "server stopped" in detail["error"]
    finally:
        close_app(app)
