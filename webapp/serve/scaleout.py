"""Several servers behind one load balancer: the served model follows an activation everywhere.

Flask-SocketIO's message queue (SIGNLIVE_MESSAGE_QUEUE=redis://...) already carries every
emit to the clients of every server, so the `model` announcement of a hot swap reaches all
pages. But each server holds its own model in memory: without this module, the page would be
told "model X" by a server that still answers with the old one. Here each server publishes
its swaps on a Redis channel and applies the swaps the others publish (loading the model from
the shared models folder), so an activation on any server changes what all of them serve.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from flask import Flask

from webapp.metrics import log_event
from webapp.serve import activation

log = logging.getLogger("signlive.scaleout")

CHANNEL = "signlive:model-activated"
EXTENSION = "signlive.scaleout"


class ModelSync:
    """Publishes this server's swaps, applies the other servers' swaps."""

    def __init__(self, app: Flask, url: str) -> None:
        import redis

        self.app = app
        self.state = app.extensions["signlive"]
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        self.server_id = uuid.uuid4().hex
        self._applying = threading.local()
        self._stop = threading.Event()
        self.ready = threading.Event()  # subscribed (tests and start-up logs wait on it)
        self.state.inference.on_swap(self._publish)
        self._thread = threading.Thread(target=self._listen, name="signlive-model-sync",
                                        daemon=True)
        self._thread.start()

    def _publish(self, name: str) -> None:
        if getattr(self._applying, "name", None) == name:
            return  # a swap this module made on another server's word: not news
        try:
            self.redis.publish(CHANNEL, json.dumps({"name": name, "origin": self.server_id}))
        except Exception as exc:  # the swap happened here; the others keep their model
            log_event(log, logging.ERROR, "model_sync_publish_failed", model=name,
                      error=str(exc)[:200])

    def _apply(self, message: dict) -> None:
        data = json.loads(message["data"])
        name = data.get("name")
        if data.get("origin") == self.server_id or not isinstance(name, str):
            return
        if name == self.state.model_name:
            return
        self._applying.name = name
        try:
            self.state.activate(name)  # validates; a failure keeps the current model
            activation.remember(self.app.instance_path, name)
            log_event(log, logging.INFO, "model_sync_applied", model=name)
        except ValueError as exc:
            log_event(log, logging.ERROR, "model_sync_refused", model=name,
                      error=str(exc)[:300], serving=self.state.model_name)
        finally:
            self._applying.name = None

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._apply(message)
            except Exception as exc:  # Redis restarted or unreachable: retry, never die
                self.ready.clear()
                log_event(log, logging.WARNING, "model_sync_reconnect", error=str(exc)[:200])
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)


def init_app(app: Flask) -> ModelSync | None:
    """Start model sync when a message queue is configured (Redis); otherwise nothing."""
    url = str(app.config.get("MESSAGE_QUEUE") or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        if url:
            log.warning("SIGNLIVE_MESSAGE_QUEUE=%s is not Redis: model activations are not "
                        "synchronised between servers", url.split("://")[0] + "://...")
        return None
    sync = ModelSync(app, url)
    app.extensions[EXTENSION] = sync
    deadline = time.monotonic() + 5
    while not sync.ready.is_set() and time.monotonic() < deadline:
        sync.ready.wait(0.1)
    return sync
