"""The one live-server helper of the tests: an app behind a real threaded HTTP + WebSocket
server (webapp/serve/server.py, what `signlive serve` runs) on a free loopback port.

Not a test module (no test_ prefix): tests/ is on sys.path, so conftest.py, adminkit.py and
the tests import it. Serving starts at once; `stop()` (or leaving a `with` block) stops it.
Closing the app (its inference worker, its job manager) stays with whoever made it.
"""

from __future__ import annotations

import threading

from webapp.serve.server import make_server

TIMEOUT = 15


def receive(sio, event: str | None = None, timeout: float = TIMEOUT):
    """The next event on a /live client other than `model` announcements (or, with `event`,
    the next event of that name)."""
    while True:
        name, data = sio.receive(timeout=timeout)
        if event == name or (event is None and name != "model"):
            return name, data


class LiveServer:
    """The app served on a free loopback port (see the module doc)."""

    def __init__(self, app) -> None:
        self.app = app
        self.state = app.extensions["signlive"]
        self._server = make_server(app)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def connect(self, **kwargs):
        """A python-socketio SimpleClient on /live over WebSocket only."""
        import socketio

        sio = socketio.SimpleClient()
        sio.connect(self.url, namespace="/live", transports=["websocket"], wait_timeout=10,
                    **kwargs)
        return sio

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
