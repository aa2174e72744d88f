"""Scale-out: two production servers (gunicorn) on two loopback ports share a real Redis as
Flask-SocketIO's message queue (SIGNLIVE_MESSAGE_QUEUE). A model activated through one
server's admin API is announced to the /live clients of BOTH servers, and both serve it.

Needs /usr/bin/redis-server (`make browser-deps` installs it with apt); skipped only when it
cannot be found.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import requests
import socketio
from adminkit import frame_jpeg, login_requests, wait_for
from test_faults import _gunicorn, _stop, _wait_healthy

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not Path(REDIS).exists(),
                                reason="redis-server not found (apt-get install redis-server)")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    from conftest import free_port

    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        wait_for(lambda: _pings(client), 20, "redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


class Page:
    """A /live client that records `model` announcements and predictions."""

    def __init__(self, url: str) -> None:
        self.models: list[str] = []
        self.predictions: list[dict] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("model", lambda data: self.models.append(data["name"]), namespace="/live")
        self.sio.on("prediction", self.predictions.append, namespace="/live")
        self.sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10)

    def predict(self, frame_id: int) -> dict:
        self.sio.emit("frame", {"id": frame_id, "image": frame_jpeg()}, namespace="/live")
        return wait_for(lambda: next((p for p in self.predictions if p["id"] == frame_id), None),
                        30, f"the answer to frame {frame_id}")

    def close(self) -> None:
        self.sio.eio.disconnect(abort=True)


def test_an_activation_on_one_server_reaches_the_clients_of_the_other(redis_url, two_models,
                                                                      tmp_path):
    from conftest import free_port

    ports = free_port(), free_port()
    servers = [_gunicorn(port, two_models, {"SIGNLIVE_MESSAGE_QUEUE": redis_url,
                                            "SIGNLIVE_INSTANCE": str(tmp_path / f"i{port}")})
               for port in ports]
    pages: list[Page] = []
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, server in zip(urls, servers, strict=True):
            _wait_healthy(url, server)
        pages = [Page(urls[0]), Page(urls[1]), Page(urls[1])]
        for i, page in enumerate(pages):
            assert page.predict(i)["model"] == "default"

        http = requests.Session()
        csrf = login_requests(http, urls[0], password="test-password")
        response = http.post(f"{urls[0]}/api/models/other/activate",
                             headers={"X-CSRFToken": csrf})
        assert response.status_code == 200, response.text

        # Every emit goes through Redis to the clients of every server, so each page hears
        # the announcement twice: from the server that swapped on the admin's request, and
        # from the other one, which swapped on hearing of it (webapp/serve/scaleout.py).
        for page in pages:
            wait_for(lambda p=page: p.models.count("other") == 2, 20,
                     "the model announcements of both servers")
        # ... and both servers now answer with it.
        wait_for(lambda: requests.get(f"{urls[1]}/healthz", timeout=5).json()["model"]
                 == "other", 20, "the second server to serve the new model")
        for i, page in enumerate(pages):
            assert page.predict(100 + i)["model"] == "other"
        assert requests.get(f"{urls[0]}/healthz", timeout=5).json()["model"] == "other"
    finally:
        for page in pages:
            page.close()
        for server in servers:
            _stop(server)
