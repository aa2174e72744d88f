"""/metrics (Prometheus text) over a real server, the structured log lines, and the privacy
promise: frame bytes never reach a log line or a file."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from webapp.serve.benchmark import camera_frame

TIMEOUT = 15
MARKER = b"PRIVATE-FRAME-CONTENT-7f3a9c"


def _jpeg_with_marker() -> bytes:
    """A real camera frame carrying MARKER in a JPEG comment segment (still a valid JPEG)."""
    frame = camera_frame(np.full((28, 28), 90, np.uint8))
    comment = b"\xff\xfe" + (len(MARKER) + 2).to_bytes(2, "big") + MARKER
    return frame[:2] + comment + frame[2:]


@pytest.fixture(scope="module")
def server(serve_app, tiny_config, tmp_path_factory):
    from webapp import create_app

    instance = tmp_path_factory.mktemp("instance")
    return serve_app(create_app(dict(tiny_config, INSTANCE_PATH=str(instance),
                                     ADMIN_PASSWORD="a-password-never-logged")))


def _samples(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(f"{url}/metrics", timeout=TIMEOUT).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _receive(sio):
    while True:
        event, data = sio.receive(timeout=TIMEOUT)
        if event != "model":
            return event, data


def test_metrics_count_frames_batches_latency_clients_and_the_model(server):
    before = _samples(server.url)
    sio = server.connect()
    try:
        for i in range(5):
            sio.emit("frame", {"id": i, "image": _jpeg_with_marker()})
            assert _receive(sio)[0] == "prediction"
        for payload in ({"id": 9, "image": b"not an image"}, {"id": "x", "image": b""}, [1]):
            sio.emit("frame", payload)
            assert _receive(sio)[0] == "error"
        during = _samples(server.url)
    finally:
        sio.client.eio.disconnect(abort=True)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return during.get(key, 0) - before.get(key, 0)

    assert delta("signlive_frames_received_total") == 6  # 5 good + the non-image
    assert delta("signlive_frames_answered_total") == 5
    assert delta("signlive_frames_rejected_total", code="not_an_image") == 1
    assert delta("signlive_frames_rejected_total", code="bad_id") == 1
    assert delta("signlive_frames_rejected_total", code="bad_payload") == 1
    assert delta("signlive_inference_batch_size_count") == 5
    assert delta("signlive_inference_batch_size_sum") == 5
    assert delta("signlive_server_latency_seconds_count") == 5
    assert 0 < delta("signlive_server_latency_seconds_sum") < 5 * TIMEOUT
    assert during[("signlive_connected_clients", ())] >= 1
    assert during[("signlive_active_model_info",
                   (("device", server.state.device), ("model", "tiny")))] == 1
    assert during[("signlive_training_runs", (("status", "running"),))] == 0
    assert ("signlive_frames_dropped_total", ()) in during


def test_metrics_of_two_apps_do_not_clash(make_app, tiny_config):
    first, second = make_app(tiny_config), make_app(dict(tiny_config, ACTIVE_MODEL="tiny2"))
    assert 'model="tiny"' in first.test_client().get("/metrics").get_data(as_text=True)
    assert 'model="tiny2"' in second.test_client().get("/metrics").get_data(as_text=True)


def test_startup_is_one_json_line_without_secrets(make_app, tiny_config, caplog):
    caplog.set_level(logging.INFO, logger="signlive")
    make_app(dict(tiny_config, ADMIN_PASSWORD="hunter2-never-logged",
                  MESSAGE_QUEUE="", SECRET_KEY="s3cret-never-logged-0123456789"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith('{"event": "s')]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "startup" and record["model"] == "tiny" and record["device"]
    assert record["config"]["ACTIVE_MODEL"] == "tiny" and "SECRET_KEY" not in record["config"]
    assert "hunter2" not in caplog.text and "s3cret" not in caplog.text


def test_a_message_queue_url_is_logged_without_its_password():
    from webapp.metrics import public_config

    shown = public_config({"MESSAGE_QUEUE": "redis://user:p4ss@redis.internal:6379/0",
                           "ADMIN_PASSWORD": "x", "SECRET_KEY": "y", "MAX_BATCH": 32})
    assert shown == {"MESSAGE_QUEUE": "redis://***@redis.internal:6379/0", "MAX_BATCH": 32}


def test_frames_never_reach_a_log_line_or_a_file(server, caplog, tmp_path):
    """The README's privacy promise, checked: with every logger at DEBUG, frames good and bad
    go through the server and no log record carries their bytes; no file appears anywhere
    the server writes (its instance folder, the models folder, the working directory)."""
    caplog.set_level(logging.DEBUG)
    folders = [server.app.instance_path, server.app.config["MODELS_DIR"], os.getcwd()]
    listing = {f: sorted(os.listdir(f)) for f in folders}
    frame = _jpeg_with_marker()
    sio = server.connect()
    try:
        for i, image in enumerate([frame, frame[: len(frame) // 2], MARKER * 100,
                                   b"\x89PNG\r\n\x1a\n" + MARKER]):
            sio.emit("frame", {"id": i, "image": image})
            _receive(sio)
        sio.emit("frame", {"id": 99, "image": MARKER.decode()})  # text: echoed? never
        event, data = _receive(sio)
        assert event == "error" and MARKER.decode() not in json.dumps(data)
    finally:
        sio.client.eio.disconnect(abort=True)
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert MARKER.decode() not in text and "PRIVATE-FRAME" not in text
    assert {f: sorted(os.listdir(f)) for f in folders} == listing
