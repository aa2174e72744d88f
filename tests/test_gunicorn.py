"""The production command (docs/DEPLOY.md) starts and serves a prediction over WebSocket."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import socketio

from webapp.serve.benchmark import camera_frame

ROOT = Path(__file__).resolve().parent.parent


def gunicorn_command(port: int) -> list[str]:
    """The documented command (docs/DEPLOY.md), bound to a test port."""
    return [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "64", "-k", "gthread",
            "-b", f"127.0.0.1:{port}", "webapp.wsgi:app"]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            # gunicorn accepts connections while its worker still loads the model
            return requests.get(url + "/healthz", timeout=10).json()
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.5)
    pytest.fail("gunicorn did not become healthy in time")


@pytest.fixture
def gunicorn(tiny_models_dir, tmp_path):
    from conftest import free_port

    port = free_port()
    env = dict(os.environ, SIGNLIVE_MODELS=str(tiny_models_dir), SIGNLIVE_MODEL="tiny",
               SIGNLIVE_SECRET_KEY=secrets.token_hex(32), SIGNLIVE_ADMIN_PASSWORD="test-password",
               TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(gunicorn_command(port), cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_gthread_serves_predictions_over_websocket(gunicorn):
    url, process = gunicorn
    health = wait_healthy(url, process)
    assert health["status"] == "ok" and health["model"] == "tiny"
    sio = socketio.SimpleClient()
    sio.connect(url, namespace="/live", transports=["websocket"], wait_timeout=15)
    try:
        assert sio.client.transport() == "websocket"
        for frame_id in (1, 2, 3):
            sio.emit("frame", {"id": frame_id, "image": camera_frame(np.zeros((28, 28), "u1"))})
            event, data = sio.receive(timeout=15)
            while event == "model":
                event, data = sio.receive(timeout=15)
            assert (event, data["id"], data["model"]) == ("prediction", frame_id, "tiny")
        sio.emit("frame", {"id": 4, "image": b"not an image"})
        assert sio.receive(timeout=15)[1]["code"] == "not_an_image"
    finally:
        sio.disconnect()
