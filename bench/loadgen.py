"""Load test: N real Socket.IO clients against the production server (gunicorn gthread).

    python -m bench.loadgen [--clients 1,8,32,64] [--fps 10] [--seconds 20] [--find 150]
                            [--url http://host:port --server-pid PID] [--json FILE]

The clients run in separate processes (multiprocessing, spawn), never in the process that
watches the server. Each client sends real 640x480 JPEG frames (Sign Language MNIST test
images scaled into the guide square, webapp.serve.benchmark.camera_frame) at up to --fps with one
frame in flight, as the page does, and times every round trip (emit -> prediction). Per level:
frames/s served, round trip p50/p95/p99, the server's own arrival->answer time, errors and
disconnections, the mean inference batch (from /metrics), and the server worker's CPU and RSS
(from /proc). With --find MS, the client counts between the last level under MS ms of p95 and
the first over it are bisected to find where p95 passes MS.

Without --url the command starts `gunicorn -w 1 -k gthread` itself on a free loopback port,
serving models/default.keras (or an untrained `resnet`, the same cost, when it is missing).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench.live_latency import cpu_seconds, free_port, model_location, wait_healthy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# --- the server ---------------------------------------------------------------------------------

def start_gunicorn(port: int, threads: int, env: dict) -> subprocess.Popen:
    """The documented production command (docs/DEPLOY.md), its log in a temporary file."""
    log = tempfile.NamedTemporaryFile("w+", prefix="signlive-loadgen-", suffix=".log",
                                      delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", str(threads), "-k", "gthread",
         "-b", f"127.0.0.1:{port}", "webapp.wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log.name
    return process


def server_env(models_dir: Path, model: str, instance: str, **extra: str) -> dict:
    return dict(os.environ, SIGNLIVE_MODELS=str(models_dir), SIGNLIVE_MODEL=model,
                SIGNLIVE_SECRET_KEY=secrets.token_hex(32), SIGNLIVE_ADMIN_PASSWORD="bench-only",
                SIGNLIVE_INSTANCE=instance, TF_CPP_MIN_LOG_LEVEL="2", **extra)


def worker_pid(master: int) -> int:
    """gunicorn's (single) worker: the process that holds the sockets and the model."""
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return pids[0] if pids else master


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def scrape(url: str) -> dict[str, float]:
    """A few /metrics values (un-labelled series only)."""
    import requests

    text = requests.get(f"{url}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(signlive_[a-z_]+) ([0-9.e+-]+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


# --- the clients (in child processes) -----------------------------------------------------------

def _client(url: str, frames: list[bytes], index: int, fps: float, start_at: float,
            stop_at: float, out: dict, lock: threading.Lock) -> None:
    import socketio

    answer = threading.Event()
    state = {"id": -1, "event": None, "data": None, "at": 0.0}

    def on(event: str):
        def handler(data):
            if isinstance(data, dict) and data.get("id") == state["id"]:
                state.update(event=event, data=data, at=time.monotonic())
                answer.set()
        return handler

    sio = socketio.Client(reconnection=False)
    sio.on("prediction", on("prediction"), namespace="/live")
    sio.on("error", on("error"), namespace="/live")
    sio.on("disconnect", lambda *a: _add(out, lock, "disconnects", 1), namespace="/live")
    try:
        sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=30)
    except Exception as exc:
        _add(out, lock, "errors", 1, f"connect: {exc}")
        return
    time.sleep(max(0.0, start_at - time.time() + (index % 50) * 0.002))
    frame_id = 0
    try:
        while time.time() < stop_at and sio.connected:
            answer.clear()
            state["id"] = frame_id
            sent = time.monotonic()
            sent_wall = time.time()
            sio.emit("frame", {"id": frame_id, "image": frames[(index + frame_id) % len(frames)]},
                     namespace="/live")
            if not answer.wait(10.0):
                _add(out, lock, "errors", 1, f"no answer to frame {frame_id} in 10 s")
            elif state["event"] != "prediction":
                _add(out, lock, "errors", 1, f"{state['event']}: {state['data']}")
            else:
                with lock:
                    out["samples"].append((sent_wall, (state["at"] - sent) * 1000.0,
                                           float(state["data"]["latency_ms"])))
            frame_id += 1
            time.sleep(max(0.0, sent + 1.0 / fps - time.monotonic()))
    except Exception as exc:
        _add(out, lock, "errors", 1, f"{type(exc).__name__}: {exc}")
    finally:
        sio.handlers.get("/live", {}).pop("disconnect", None)  # our own hang-up is no failure
        sio.eio.disconnect(abort=True)


def _add(out: dict, lock: threading.Lock, key: str, n: int, message: str = "") -> None:
    with lock:
        out[key] += n
        if message and len(out["messages"]) < 5:
            out["messages"].append(message)


def client_process(url: str, frames: list[bytes], indices: list[int], fps: float,
                   start_at: float, stop_at: float) -> dict:
    """Run clients `indices` (one thread each) in this process; their raw samples."""
    out = {"samples": [], "errors": 0, "disconnects": 0, "messages": [],
           "cpu_s": 0.0}
    lock = threading.Lock()
    cpu0 = time.process_time()
    threads = [threading.Thread(target=_client, args=(url, frames, i, fps, start_at, stop_at,
                                                      out, lock), daemon=True)
               for i in indices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(stop_at - time.time() + 60)
    out["cpu_s"] = time.process_time() - cpu0
    return out


def run_level(url: str, frames: list[bytes], clients: int, fps: float, seconds: float,
              warmup: float, procs: int) -> dict:
    """`clients` clients over `procs` processes: seconds measured after a warm-up."""
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, clients))
    start_at = time.time() + 3.0 + clients * 0.05  # everyone connected before the start
    stop_at = start_at + warmup + seconds
    groups = [list(range(clients))[k::procs] for k in range(procs)]
    with ctx.Pool(procs) as pool:
        pending = [pool.apply_async(client_process, (url, frames, g, fps, start_at, stop_at))
                   for g in groups]
        parts = [p.get(timeout=stop_at - time.time() + 120) for p in pending]
    samples = [s for part in parts for s in part["samples"] if s[0] >= start_at + warmup]
    rtt = np.array([s[1] for s in samples]) if samples else np.array([np.nan])
    server = np.array([s[2] for s in samples]) if samples else np.array([np.nan])
    return {
        "clients": clients, "target_fps": fps * clients, "frames": len(samples),
        "fps": len(samples) / seconds,
        **{f"rtt_p{q}": float(np.percentile(rtt, q)) for q in (50, 95, 99)},
        "server_p50": float(np.percentile(server, 50)),
        "server_p95": float(np.percentile(server, 95)),
        "errors": sum(p["errors"] for p in parts),
        "disconnects": sum(p["disconnects"] for p in parts),
        "messages": [m for p in parts for m in p["messages"]][:5],
        "clients_cpu_s": sum(p["cpu_s"] for p in parts),
    }


# --- the driver ---------------------------------------------------------------------------------

def load_frames(per_letter: int = 2) -> list[bytes]:
    from webapp import config
    from webapp.serve import benchmark
    from webapp.train import signmnist

    samples = signmnist.letter_samples(config.data_dir(), per_letter=per_letter)
    return [benchmark.camera_frame(image, seed=i) for i, (image, _) in enumerate(samples)]


def measure(url: str, pid: int, frames: list[bytes], clients: int, args) -> dict:
    before = scrape(url)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    result = run_level(url, frames, clients, args.fps, args.seconds, args.warmup, args.procs)
    wall = time.monotonic() - t0
    after = scrape(url)
    batches = (after.get("signlive_inference_batch_size_count", 0)
               - before.get("signlive_inference_batch_size_count", 0))
    frames_in = (after.get("signlive_inference_batch_size_sum", 0)
                 - before.get("signlive_inference_batch_size_sum", 0))
    result.update(server_cpu=(cpu_seconds(pid) - cpu0) / wall * 100,
                  server_rss_mb=rss_mb(worker_pid(pid)),
                  mean_batch=frames_in / batches if batches else float("nan"),
                  clients_cpu=result.pop("clients_cpu_s") / wall * 100)
    return result


ROW = ["clients", "target f/s", "served f/s", "rtt p50", "rtt p95", "rtt p99", "server p50",
       "mean batch", "errors", "disconn.", "server CPU", "server RSS MB", "clients CPU"]


def row(r: dict) -> list:
    return [r["clients"], r["target_fps"], r["fps"], r["rtt_p50"], r["rtt_p95"], r["rtt_p99"],
            r["server_p50"], r["mean_batch"], r["errors"], r["disconnects"],
            f"{r['server_cpu']:.0f}%", r["server_rss_mb"], f"{r['clients_cpu']:.0f}%"]


def find_threshold(results: list[dict], limit_ms: float, try_level) -> int | None:
    """Bisect the client count where p95 first passes `limit_ms` (to within 4 clients)."""
    ordered = sorted(results, key=lambda r: r["clients"])
    below = [r["clients"] for r in ordered if r["rtt_p95"] <= limit_ms]
    above = [r["clients"] for r in ordered if r["rtt_p95"] > limit_ms]
    if not above:
        return None
    high = min(above)
    low = max([c for c in below if c < high], default=0)
    while high - low > 4:
        middle = (low + high) // 2
        r = try_level(middle)
        results.append(r)
        if r["rtt_p95"] > limit_ms:
            high = middle
        else:
            low = middle
    return high


def main(argv: list[str] | None = None) -> int:
    from webapp.device import describe
    from webapp.serve.benchmark import format_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32,64")
    parser.add_argument("--fps", type=float, default=10.0, help="frames/s per client at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a level")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=160, help="gunicorn --threads")
    parser.add_argument("--find", type=float, default=0.0, metavar="MS",
                        help="bisect the client count where p95 passes MS")
    parser.add_argument("--url", help="an already running server (with --server-pid)")
    parser.add_argument("--server-pid", type=int, help="its process id, for CPU and RSS")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    frames = load_frames()
    process = None
    if args.url:
        url, pid, description = args.url.rstrip("/"), args.server_pid or 0, "(external)"
    else:
        models_dir, name, description = model_location()
        port = free_port()
        process = start_gunicorn(port, args.threads, server_env(
            models_dir, name, tempfile.mkdtemp(prefix="signlive-loadgen-instance-")))
        url, pid = f"http://127.0.0.1:{port}", process.pid
    try:
        if process is not None:
            wait_healthy(url, process)
        print(f"server: {url} (gunicorn gthread, {args.threads} threads), model {description}, "
              f"device {describe()}; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} before the run")
        print(f"frames: 640x480 JPEG, {int(np.mean([len(f) for f in frames])) // 1024} KiB on "
              f"average; each client <= {args.fps:g} fps, one frame in flight; "
              f"{args.seconds:g} s measured per level after {args.warmup:g} s warm-up")
        results = []
        for clients in [int(c) for c in args.clients.split(",")]:
            results.append(measure(url, pid, frames, clients, args))
            print(format_table([row(results[-1])], ROW).splitlines()[-1], flush=True)
        threshold = None
        if args.find:
            threshold = find_threshold(results, args.find,
                                       lambda n: measure(url, pid, frames, n, args))
        results.sort(key=lambda r: r["clients"])
        print()
        print(format_table([row(r) for r in results], ROW))
        for r in results:
            if r["messages"]:
                print(f"  x{r['clients']}: {r['messages'][0][:200]}")
        if args.find:
            print(f"\np95 round trip passes {args.find:g} ms at "
                  + (f"{threshold} clients" if threshold else
                     f"none of the levels tried (max {results[-1]['clients']})")
                  + f" x {args.fps:g} fps; load average now {os.getloadavg()[0]:.1f}")
        if args.json:
            args.json.write_text(json.dumps({"results": results, "threshold": threshold,
                                             "fps": args.fps, "seconds": args.seconds},
                                            indent=1))
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
