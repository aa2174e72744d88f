"""`GET /metrics` in Prometheus text format, and structured (JSON) log lines.

Each app gets its own CollectorRegistry (tests build several apps in one process, and the
global registry would refuse the second set of metric names). Counters the inference service
already keeps (frames received/answered/dropped/rejected, swaps) are read at scrape time by a
collector, so the hot path pays nothing for them; only the two histograms (batch size, server
latency) are observed as batches finish, through InferenceService.on_batch.

Log lines: `log_event()` writes one JSON object per line (`{"event": "startup", ...}`) so a log
shipper can index them without regexes. Nothing here ever logs frame bytes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
)

log = logging.getLogger("signlive.metrics")

EXTENSION = "signlive.metrics"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
# Config keys never written to a log line (a secret in a log is a leaked secret).
SECRET_KEYS = frozenset({"SECRET_KEY", "ADMIN_PASSWORD", "MESSAGE_QUEUE"})

bp = Blueprint("metrics", __name__)


def log_event(logger: logging.Logger, level: int, event: str, *, exc_info: Any = None,
              **fields: Any) -> None:
    """One structured log line: a JSON object with `event` first, then `fields`."""
    record = {"event": event, **fields}
    logger.log(level, json.dumps(record, default=str, sort_keys=False), exc_info=exc_info)


def public_config(config: dict) -> dict:
    """The app settings that are safe to log: secrets dropped, credentials in URLs masked."""
    shown = {}
    for key, value in config.items():
        if not key.isupper() or key in SECRET_KEYS or "PASSWORD" in key or "TOKEN" in key:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            shown[key] = value
    if config.get("MESSAGE_QUEUE"):
        shown["MESSAGE_QUEUE"] = _mask_url(str(config["MESSAGE_QUEUE"]))
    return shown


def _mask_url(url: str) -> str:
    """redis://user:secret@host:6379/0 -> redis://***@host:6379/0."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class _ServiceCollector:
    """Reads the live server's own counters at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        state = self.app.extensions["signlive"]
        stats = state.inference.stats()
        for name, key, doc in (
            ("signlive_frames_received", "frames_received", "Frames accepted for inference"),
            ("signlive_frames_answered", "frames_answered", "Frames answered with a prediction"),
            ("signlive_frames_dropped", "frames_dropped",
             "Frames replaced by a newer one from the same client before inference"),
            ("signlive_frames_with_box", "frames_with_box",
             "Frames that came with the page's hand box"),
            ("signlive_frames_with_landmarks", "frames_with_landmarks",
             "Frames that came with the hand's landmarks (besides its box)"),
            ("signlive_model_swaps", "swaps", "Hot swaps of the served model"),
        ):
            yield CounterMetricFamily(name, doc, value=stats.get(key, 0))
        rejected = CounterMetricFamily("signlive_frames_rejected",
                                       "Frames refused with an error event, by code",
                                       labels=["code"])
        for code, count in sorted(stats.get("frames_rejected", {}).items()):
            rejected.add_metric([str(code)], count)
        yield rejected
        yield GaugeMetricFamily("signlive_frames_pending", "Frames waiting for the worker",
                                value=stats.get("pending", 0))
        yield GaugeMetricFamily("signlive_connected_clients", "Clients connected to /live",
                                value=state.clients)
        yield GaugeMetricFamily("signlive_uptime_seconds", "Seconds since the app started",
                                value=state.uptime_s())
        info = InfoMetricFamily("signlive_active_model", "The model answering frames")
        info.add_metric([], {"model": str(state.model_name), "device": str(state.device)})
        yield info
        runs = GaugeMetricFamily("signlive_training_runs", "Training runs in the history, "
                                 "by status", labels=["status"])
        jobs = self.app.extensions.get("signlive.jobs")
        if jobs is not None:
            try:
                counts = jobs.store.counts_by_status()
            except Exception:  # a locked or damaged history must not break scraping
                log.exception("could not count training runs")
                counts = {}
            for status, count in counts.items():
                runs.add_metric([status], count)
        yield runs


class Metrics:
    """The per-app registry and the histograms the inference worker feeds."""

    def __init__(self, app: Flask) -> None:
        self.registry = CollectorRegistry()
        self.batch_size = Histogram(
            "signlive_inference_batch_size", "Frames per forward pass",
            buckets=BATCH_BUCKETS, registry=self.registry)
        self.latency = Histogram(
            "signlive_server_latency_seconds",
            "Server time per answered frame: arrival to answer (queue + decode + inference)",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_ServiceCollector(app))

    def observe_batch(self, size: int, latencies_ms: list[float]) -> None:
        self.batch_size.observe(size)
        for value in latencies_ms:
            self.latency.observe(value / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


@bp.get("/metrics")
def metrics() -> Response:
    body = current_app.extensions[EXTENSION].render()
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> Metrics:
    """/metrics for `app` (after create_app has made app.extensions["signlive"])."""
    state = Metrics(app)
    app.extensions[EXTENSION] = state
    app.extensions["signlive"].inference.on_batch(state.observe_batch)
    app.register_blueprint(bp)
    return state


def log_startup(app: Flask) -> None:
    """The start-up line: device, model, and the settings (without secrets)."""
    state = app.extensions["signlive"]
    log_event(log, logging.INFO, "startup", model=state.model_name, device=state.device,
              crop_fraction=state.inference.served.spec.crop_fraction,
              input_size=state.inference.served.spec.input_size,
              config=public_config(app.config))
