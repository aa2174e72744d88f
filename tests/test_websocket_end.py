"""How a WebSocket on the threaded server ends, read byte by byte with a raw client.

The cold-start drop of the live page (issue 'spelling', item 4: the page's console said
"Data frame received after close" and it reconnected with a new session) came from this
path: when engine.io's WebSocket handler ends, Werkzeug used to keep reading the hijacked
socket as a keep-alive HTTP connection, parse the client's next frames as a request and write
an HTML 400 page into the WebSocket stream, and never close it (webapp/serve/server.py). Here the
handler is made to end on purpose (an upgrade probe that fails, the server ending the
session), the client goes on sending frames as a busy page would, and what comes back must be
WebSocket frames only, followed by the end of the connection.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

TIMEOUT = 10


class RawClient:
    """A WebSocket client on a plain socket that keeps every byte the server sends."""

    def __init__(self, url: str, sid: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.raw = b""
        self.sock.sendall(self.ws.send(Request(
            host=f"{host}:{port}", target=f"/socket.io/?EIO=4&transport=websocket&sid={sid}")))
        assert any(isinstance(e, AcceptConnection) for e in self._read_events())

    def _read_events(self) -> list:
        data = self.sock.recv(65536)
        self.raw += data
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    def send_text(self, text: str) -> bool:
        """Send one text frame; False once the server has closed the connection."""
        try:
            self.sock.sendall(self.ws.send(TextMessage(data=text)))
            return True
        except (OSError, LocalProtocolError):  # a closed socket, or a closed WebSocket
            return False

    def read_to_end(self, frames_meanwhile: int = 200) -> tuple[list, bytes]:
        """Go on sending frames (a busy page does not know yet) and read everything the server
        sends until it closes the connection: (events, bytes after the handshake)."""
        start = len(self.raw)
        events: list = []
        self.sock.settimeout(0.05)
        deadline = time.monotonic() + TIMEOUT
        sent = 0
        while time.monotonic() < deadline:
            if sent < frames_meanwhile and self.send_text('42/live,["frame",{}]' + "x" * 200):
                sent += 1
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            self.raw += data
            try:
                self.ws.receive_data(data)
                new = list(self.ws.events())
            except RemoteProtocolError as exc:
                new = [exc]
            events.extend(new)
            for event in new:
                if isinstance(event, CloseConnection):  # answer a close, as browsers do
                    sent = frames_meanwhile
                    self.sock.sendall(self.ws.send(event.response()))
        else:
            pytest.fail("the server never closed the connection")
        return events, self.raw[start:]


def _polling_session(url: str) -> str:
    r = requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text.startswith("0"), r.text
    return json.loads(r.text[1:])["sid"]


def _assert_frames_only(events: list, tail: bytes) -> None:
    assert b"<!DOCTYPE" not in tail and b"HTTP/1." not in tail, tail[:200]
    bad = [e for e in events if isinstance(e, Exception)]
    assert not bad, (bad, tail[:200])
    closes = [i for i, e in enumerate(events) if isinstance(e, CloseConnection)]
    if closes:  # nothing after a close
        assert closes[0] == len(events) - 1, events


@pytest.mark.parametrize("probe", ["4hello", "2probe"], ids=["no probe", "no upgrade packet"])
def test_a_failed_upgrade_ends_the_websocket_cleanly(live_server, probe):
    """An upgrade the server refuses ends the WebSocket: the polling session is unharmed."""
    sid = _polling_session(live_server.url)
    client = RawClient(live_server.url, sid)
    assert client.send_text(probe)
    if probe == "2probe":  # then anything but the "5" that completes the upgrade
        assert client.send_text("6")
    events, tail = client.read_to_end()
    _assert_frames_only(events, tail)
    texts = [e.data for e in events if isinstance(e, TextMessage)]
    assert texts == (["3probe"] if probe == "2probe" else []), texts


def test_a_session_the_server_ends_sends_its_close_last(live_server):
    """The server ends a session (here: the client's own engine.io CLOSE packet after the
    upgrade; the flood guard and a server shutdown end it the same way): its goodbye is the
    last thing on the wire, whatever the client still sends."""
    sid = _polling_session(live_server.url)
    client = RawClient(live_server.url, sid)
    assert client.send_text("2probe")
    assert client.send_text("5")  # upgraded
    assert client.send_text("40/live,")  # join /live
    time.sleep(0.3)
    assert client.send_text("1")  # engine.io CLOSE: the server ends the session
    events, tail = client.read_to_end()
    _assert_frames_only(events, tail)
