"""A flooding client and a well-behaved bystander, for the flood test
(tests/test_hostile_frames.py) and the flood benchmark (bench/flood.py).

Not a test module (no test_ prefix): tests/ is on sys.path, so both import it.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serverkit import TIMEOUT, receive

FLOODER = textwrap.dedent("""
    import sys, time
    import socketio
    url, seconds, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    image = open(path, "rb").read()
    errors = {}
    sio = socketio.Client(reconnection=False)
    sio.on("error", lambda e: errors.__setitem__(e["code"], errors.get(e["code"], 0) + 1),
           namespace="/live")
    sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10)
    print("connected", flush=True)
    sys.stdin.readline()
    sent, start = 0, time.monotonic()
    while time.monotonic() < start + seconds and sio.connected:
        try:
            sio.emit("frame", {"id": sent, "image": image}, namespace="/live")
        except Exception:
            break
        sent += 1
        if sent % 200 == 0:
            time.sleep(0.001)  # let the client's reader thread see the disconnection
    print(sent, round(time.monotonic() - start, 3), int(sio.connected), errors, flush=True)
    sio.eio.disconnect(abort=True)
""")

_ids = itertools.count(10**6)


def round_trips(sio, image: bytes, seconds: float, at_least: int,
                fps: float = 100.0) -> list[float]:
    """Round trips (ms) of `sio` sending one frame at a time, at most `fps` a second (well
    under the per-client budget), for `seconds` and at least `at_least` frames."""
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(times) < at_least:
        frame_id = next(_ids)
        start = time.perf_counter()
        sio.emit("frame", {"id": frame_id, "image": image})
        event, data = receive(sio)
        elapsed = time.perf_counter() - start
        times.append(elapsed * 1000.0)
        if (event, data.get("id")) != ("prediction", frame_id):
            raise AssertionError(f"expected the prediction for frame {frame_id}, got "
                                 f"{event} {data}")
        time.sleep(max(0.0, 1.0 / fps - elapsed))
    return times


@dataclass
class Flood:
    """What one flood did: the flooder's side, and the bystander's round trips (ms) before
    and during it."""

    sent: int
    seconds: float
    still_connected: bool
    errors: str  # the error codes the flooder saw, as it printed them
    unloaded: list[float]
    loaded: list[float]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def flood(url: str, bystander, bystander_image: bytes, flood_image: Path,
          seconds: float = 3.0, before_flood: Callable[[], None] | None = None) -> Flood:
    """A flooder (its own process) sends `flood_image` as fast as it can for `seconds` while
    `bystander` (a connected /live client) measures its round trips, after measuring them
    unloaded for 2 s; `before_flood` is called just before the flood starts."""
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, url, str(seconds),
                                str(flood_image)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if flooder.stdout.readline().strip() != "connected":
            raise RuntimeError("the flooder could not connect")
        round_trips(bystander, bystander_image, 0.3, 20)  # warm
        unloaded = round_trips(bystander, bystander_image, 2.0, 150)
        if before_flood is not None:
            before_flood()
        flooder.stdin.write("go\n")
        flooder.stdin.flush()
        loaded = round_trips(bystander, bystander_image, seconds, 150)  # the flooder's try
        sent, took, connected, errors = flooder.stdout.readline().split(" ", 3)
        flooder.wait(TIMEOUT)
    finally:
        flooder.kill()
    return Flood(int(sent), float(took), connected == "1", errors.strip(), unloaded, loaded)
