"""Soak: 32 clients x 10 fps for N minutes against the production server (gunicorn gthread).

    python -m bench.soak [--minutes 10] [--clients 32] [--fps 10] [--warmup 60] [--every 10]

The clients are bench.loadgen's (real python-socketio clients in separate processes, real
640x480 JPEG frames, one in flight). The worker's RSS and CPU are sampled every --every
seconds. Passes (exit 0) when there was no error, no disconnection, and the RSS grew by less
than --max-growth MB between the end of the warm-up and the end of the run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time

import numpy as np

from bench.live_latency import cpu_seconds, free_port, model_location, wait_healthy
from bench.loadgen import (
    client_process,
    load_frames,
    rss_mb,
    scrape,
    server_env,
    start_gunicorn,
    worker_pid,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS "
                        "baseline (TensorFlow's pools and the batch buckets fill up first)")
    parser.add_argument("--every", type=float, default=10.0, help="sampling period, seconds")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--max-growth", type=float, default=50.0, help="MB allowed")
    args = parser.parse_args(argv)

    frames = load_frames()
    models_dir, name, description = model_location()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_gunicorn(port, args.clients + 32, server_env(
        models_dir, name, tempfile.mkdtemp(prefix="signlive-soak-instance-")))
    try:
        wait_healthy(url, process)
        worker = worker_pid(process.pid)
        duration = args.minutes * 60.0
        print(f"soak: {args.clients} clients x {args.fps:g} fps for {args.minutes:g} min against "
              f"gunicorn gthread ({description}); RSS baseline after {args.warmup:g} s; load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)
        ctx = multiprocessing.get_context("spawn")
        start_at = time.time() + 3.0 + args.clients * 0.05
        stop_at = start_at + duration
        groups = [list(range(args.clients))[k::args.procs] for k in range(args.procs)]
        samples = []  # (seconds since start, rss MB, cpu %, frames answered)
        with ctx.Pool(args.procs) as pool:
            pending = [pool.apply_async(client_process, (url, frames, g, args.fps, start_at,
                                                         stop_at)) for g in groups]
            time.sleep(max(0.0, start_at - time.time()))
            last_cpu, last_t = cpu_seconds(process.pid), time.monotonic()
            while time.time() < stop_at:
                time.sleep(min(args.every, max(0.0, stop_at - time.time())))
                cpu, now = cpu_seconds(process.pid), time.monotonic()
                answered = scrape(url).get("signlive_frames_answered_total", 0)
                samples.append((time.time() - start_at, rss_mb(worker),
                                (cpu - last_cpu) / (now - last_t) * 100, answered))
                last_cpu, last_t = cpu, now
                print(f"  t={samples[-1][0]:6.0f} s  RSS {samples[-1][1]:7.1f} MB  CPU "
                      f"{samples[-1][2]:4.0f}%  answered {int(answered)}", flush=True)
            parts = [p.get(timeout=180) for p in pending]
    finally:
        process.terminate()
        process.wait(30)

    rtt = np.array([s[1] for part in parts for s in part["samples"]] or [np.nan])
    errors = sum(p["errors"] for p in parts)
    disconnects = sum(p["disconnects"] for p in parts)
    after_warmup = [s for s in samples if s[0] >= args.warmup] or samples
    baseline, final = after_warmup[0][1], samples[-1][1]
    growth = final - baseline
    print(f"\nframes answered: {len(rtt)} ({len(rtt) / duration:.1f}/s); round trip p50/p95/p99 "
          f"{np.percentile(rtt, 50):.1f}/{np.percentile(rtt, 95):.1f}/"
          f"{np.percentile(rtt, 99):.1f} ms; errors {errors}; disconnections {disconnects}")
    print(f"worker RSS: {samples[0][1]:.1f} MB at t={samples[0][0]:.0f} s, {baseline:.1f} MB "
          f"after warm-up (t={after_warmup[0][0]:.0f} s), {final:.1f} MB at the end, max "
          f"{max(s[1] for s in samples):.1f} MB: growth after warm-up {growth:+.1f} MB")
    for part in parts:
        for message in part["messages"][:2]:
            print(f"  error: {message[:200]}")
    ok = errors == 0 and disconnects == 0 and growth < args.max_growth
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
