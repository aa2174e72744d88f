"""`signlive serve`, `signlive locate` and `signlive bench`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from webapp import config, create_app, socketio
from webapp.files import DataError
from webapp.model.registry import Registry, load_model_file
from webapp.serve import benchmark
from webapp.serve.forward import prepare
from webapp.serve.server import RequestHandler
from webapp.train import locate, signmnist
from webapp.train.photofolder import list_photos


def cmd_serve(args: argparse.Namespace) -> int:
    """The development server (Werkzeug, threaded); production is gunicorn (docs/DEPLOY.md)."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a TCP port")
    app = create_app({"ACTIVE_MODEL": args.model} if args.model else None)
    state = app.extensions["signlive"]
    logging.getLogger("signlive").info(
        "serving http://%s:%d/  model=%s  device=%s", args.host, args.port, state.model_name,
        state.device)
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True,
                     request_handler=RequestHandler)
    finally:
        state.close()
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    """Find the hand in every photo of a folder (once; later runs reuse the cache)."""
    import time

    folder = Path(args.folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: photo folder not found")
    found, _skipped = list_photos(folder)
    if not found:
        raise DataError(f"{folder}: no <LETTER>/<image> photos found")
    cache = locate.BoxCache.load(args.cache)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        left = (total - done) / rate if rate else 0
        print(f"\rlocated {done}/{total} ({rate:.1f}/s, {left / 60:.0f} min left)   ",
              end="", file=sys.stderr, flush=True)

    try:
        report = locate.locate_photos(folder, [p for p, _ in found], cache, args.jobs, progress)
    except locate.LocateError as exc:
        print(f"signlive locate: error: {exc}", file=sys.stderr)
        return 1
    if report.located:
        print(file=sys.stderr)
    for problem in report.errors[:20]:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{report.photos} photos: {report.cached} already located, {report.located} located "
          f"now ({report.with_hand} with a hand), {len(report.errors)} unreadable; "
          f"cache {cache.path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Server-side ms per frame (decode + preprocess + forward) vs one model.predict per frame.

    The Socket.IO round trips under 1/8/32 clients are measured by `make bench`
    (bench/live_latency.py); this is the in-process part, on the model that would be served.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    if args.frames < 32:
        raise ValueError(f"--frames must be at least 32, got {args.frames}")
    if args.model and args.model.endswith(".keras"):
        loaded = load_model_file(args.model)
    else:
        loaded = Registry(config.models_dir()).load(args.model or config.DEFAULT_MODEL_NAME)
    served = prepare(loaded)
    samples = signmnist.letter_samples(config.data_dir(), per_letter=2)
    frames = [benchmark.camera_frame(img, seed=i) for i, (img, _) in enumerate(samples)]
    frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
    server = benchmark.measure_server(served, frames)
    base = benchmark.measure_baseline(loaded, frames[:100])
    rows = [[f"server, batch {b}", s["p50"], s["p95"], s["p99"], s["fps"], s["fps"] / base["fps"]]
            for b, s in server.items()]
    rows.append(["model.predict x1", base["p50"], base["p95"], base["p99"], base["fps"], 1.0])
    print(f"model {loaded.name} ({loaded.path}), {len(frames)} frames of 640x480 JPEG")
    print(benchmark.format_table(rows, ["path", "p50 ms", "p95 ms", "p99 ms", "frames/s",
                                        "x baseline"]))
    return 0
