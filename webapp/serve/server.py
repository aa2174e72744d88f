"""The threaded Werkzeug server that `signlive serve`, the benchmarks and the tests run, with
one fix for WebSockets on it.

A WebSocket on Werkzeug is the HTTP request's own socket, taken over by simple-websocket.
When engine.io's WebSocket handler ends (the connection closed, or an upgrade probe that
failed) it raises ConnectionError out of the app, and Werkzeug calls that a dropped
connection, but its HTTP/1.1 keep-alive loop goes on reading the socket: the client's next
WebSocket frames are parsed as an HTTP request line and answered with an HTML "400 Bad
request" page written into the WebSocket stream, while the socket is never closed. The
browser then sees bytes that are no WebSocket frames, or frames after the close ("Data frame
received after close"), and drops the connection (tests/test_websocket_end.py shows both).
Here a dropped connection is closed, so a WebSocket that ends ends cleanly.
"""

from __future__ import annotations

from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.serving import make_server as _make_server


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, but a dropped connection (a WebSocket that ended) is never read
    again as HTTP."""

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True


def make_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded server for `app` (port 0: a free one; its `server_port` says which)."""
    return _make_server(host, port, app, threaded=True, request_handler=RequestHandler)
