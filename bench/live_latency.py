"""Live latency: server ms per frame and Socket.IO round trips for 1/8/32 clients, vs a baseline.

    python -m bench.live_latency [--seconds 5] [--fps 10] [--clients 1,8,32] [--servers ...]

Prints two tables:
1. In-process, server side: decode + preprocess + compiled forward pass per frame (batches of
   1/8/32, what the inference worker does) against the original demo's `model.predict` on one
   frame at a time.
2. End to end: a real server in a subprocess (the Werkzeug dev server, gunicorn gthread, and
   the same dev server with the baseline handler), N python-socketio clients over WebSocket,
   each sending real 640x480 JPEG frames (Sign MNIST test images in the guide square) at up to
   --fps with one frame in flight, as the page does. Round-trip p50/p95/p99, frames/s served,
   the server's own receipt->emit time, errors, and the server process's CPU.

The served model is models/default.keras when it exists, else an untrained `resnet` (same
architecture, so the same cost) saved to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("werkzeug", "gunicorn", "baseline")


# --- the baseline server: what the original demo did, behind the same /live namespace ---------
class PredictEachFrame:
    """Preprocess and `model.predict` each frame in the handler, one at a time (the demo)."""

    def __init__(self, served, confidence_threshold: float) -> None:
        self.served = served
        self.threshold = confidence_threshold
        self.lock = threading.Lock()
        self.model_name = served.name
        self.device = "CPU"

    def submit(self, client_id: str, frame_id: int, image: bytes, reply) -> None:
        from webapp.model.letters import CLASS_LETTERS, top_predictions
        from webapp.model.nets import model_inputs
        from webapp.model.preprocess import FrameError

        start = time.perf_counter()
        try:
            with self.lock:
                x = self.served.spec.read(image).image[None]
                model = self.served.loaded.model
                probs = model.predict(model_inputs(model, x), verbose=0)[0]
        except FrameError as exc:
            reply("error", {"id": frame_id, "code": exc.code, "message": exc.message})
            return
        best = int(np.argmax(probs))
        reply("prediction", {
            "id": frame_id, "confidence": float(probs[best]), "top": top_predictions(probs),
            "letter": CLASS_LETTERS[best] if probs[best] >= self.threshold else None,
            "latency_ms": (time.perf_counter() - start) * 1000.0, "model": self.model_name})

    def forget(self, client_id: str) -> None:
        pass

    def record_rejected(self, code: str) -> None:
        pass


def serve(mode: str, port: int) -> None:
    """Run the dev server (mode "werkzeug" or "baseline") until killed."""
    from webapp import create_app, socketio
    from webapp.serve.server import RequestHandler

    app = create_app({"INSTANCE_PATH": tempfile.mkdtemp(prefix="signlive-bench-instance-")})
    if mode == "baseline":
        state = app.extensions["signlive"]
        state.live.inference = PredictEachFrame(state.inference.served,
                                                app.config["CONFIDENCE_THRESHOLD"])
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False,
                 request_handler=RequestHandler)


# --- the model ----------------------------------------------------------------------------------
def model_location() -> tuple[Path, str, str]:
    """(models dir, model name, description): the shipped default, else an untrained resnet."""
    from webapp import config

    if (config.DEFAULT_MODELS_DIR / "default.keras").exists():
        return config.DEFAULT_MODELS_DIR, "default", "models/default.keras"
    from webapp.model import nets
    from webapp.model.letters import CLASS_LETTERS
    from webapp.model.preprocess import DEFAULT_CROP_FRACTION
    from webapp.model.registry import Registry

    folder = Path(tempfile.mkdtemp(prefix="signlive-bench-"))
    Registry(folder).save(nets.build_model("resnet"), "resnet-untrained", {
        "arch": "resnet", "letters": list(CLASS_LETTERS), "input_size": 28,
        "crop_fraction": DEFAULT_CROP_FRACTION})
    return folder, "resnet-untrained", "untrained nets.build_model('resnet') (same cost)"


# --- clients ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(kind: str, port: int, env: dict) -> subprocess.Popen:
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "64", "-k",
                   "gthread", "-b", f"127.0.0.1:{port}", "webapp.wsgi:app"]
    else:
        command = [sys.executable, "-m", "bench.live_latency", "--serve", kind,
                   "--port", str(port)]
    log = tempfile.NamedTemporaryFile("w+", prefix=f"signlive-bench-{kind}-", suffix=".log",
                                      delete=False)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log.name
    return process


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = Path(process.log_path).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            requests.get(url + "/healthz", timeout=10).raise_for_status()
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.5)
    raise RuntimeError("server did not become healthy")


def cpu_seconds(pid: int) -> float:
    """CPU seconds used by process `pid` and its direct children (gunicorn's worker)."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + [int(c) for c in children.read_text().split()] if children.exists() else [pid]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_clients(url: str, frames: list[bytes], clients: int, fps: float, seconds: float,
                warmup: float = 1.0) -> dict:
    """`clients` threads, each one frame in flight at up to `fps`; stats after a warm-up."""
    import socketio

    results: list[tuple[float, float, float]] = []  # (sent at, round trip ms, server ms)
    errors: list[str] = []
    lock = threading.Lock()
    start_at = time.monotonic() + 2.0
    stop_at = start_at + warmup + seconds

    def client(index: int) -> None:
        sio = socketio.SimpleClient()
        try:
            sio.connect(url, namespace="/live", transports=["websocket"], wait_timeout=20)
        except Exception as exc:
            with lock:
                errors.append(f"connect: {exc}")
            return
        time.sleep(max(0.0, start_at - time.monotonic() + index * 0.1 / clients))
        frame_id = 0
        try:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                image = frames[(index + frame_id) % len(frames)]
                sio.emit("frame", {"id": frame_id, "image": image})
                while True:
                    event, data = sio.receive(timeout=30)
                    if event != "model":
                        break
                done = time.monotonic()
                with lock:
                    if event != "prediction" or data["id"] != frame_id:
                        errors.append(f"{event}: {data}")
                    else:
                        results.append((sent, (done - sent) * 1000.0, data["latency_ms"]))
                frame_id += 1
                time.sleep(max(0.0, sent + 1.0 / fps - time.monotonic()))
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            sio.disconnect()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = [(rtt, server) for sent, rtt, server in results if sent >= start_at + warmup]
    rtt = np.array([m[0] for m in measured]) if measured else np.array([np.nan])
    server = np.array([m[1] for m in measured]) if measured else np.array([np.nan])
    return {
        "frames": len(measured), "fps": len(measured) / seconds, "errors": len(errors),
        "first_error": errors[0] if errors else "",
        **{f"rtt_p{q}": float(np.percentile(rtt, q)) for q in (50, 95, 99)},
        "server_p50": float(np.percentile(server, 50)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--fps", type=float, default=10.0, help="frames/s per client at most")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--serve", choices=("werkzeug", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0

    from webapp import config
    from webapp.device import describe
    from webapp.model.registry import Registry
    from webapp.serve import benchmark
    from webapp.serve.forward import prepare
    from webapp.train import signmnist

    counts = [int(c) for c in args.clients.split(",")]
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    if unknown := set(kinds) - set(SERVERS):
        parser.error(f"unknown server kind(s): {', '.join(sorted(unknown))}")
    models_dir, name, description = model_location()
    loaded = Registry(models_dir).load(name)
    served = prepare(loaded)
    samples = signmnist.letter_samples(config.data_dir(), per_letter=2)
    frames = [benchmark.camera_frame(image, seed=i) for i, (image, _) in enumerate(samples)]
    print(f"model: {description}; device: {describe()}; frames: 640x480 JPEG q80, "
          f"{int(np.mean([len(f) for f in frames])) // 1024} KiB on average")

    print("\n1. server side, in process: decode + preprocess + forward, ms per frame")
    server_side = benchmark.measure_server(served, frames * 2)
    base = benchmark.measure_baseline(loaded, frames)
    rows = [[f"batched, batch {b}", s["p50"], s["p95"], s["p99"], s["fps"], s["fps"] / base["fps"]]
            for b, s in server_side.items()]
    rows.append(["model.predict x1", base["p50"], base["p95"], base["p99"], base["fps"], 1.0])
    print(benchmark.format_table(rows, ["path", "p50", "p95", "p99", "frames/s", "x baseline"]))
    del loaded, served

    print(f"\n2. end to end over Socket.IO/WebSocket, each client <= {args.fps:g} fps, "
          f"one frame in flight, {args.seconds:g} s measured")
    env = dict(os.environ, SIGNLIVE_MODELS=str(models_dir), SIGNLIVE_MODEL=name,
               SIGNLIVE_SECRET_KEY=secrets.token_hex(32), SIGNLIVE_ADMIN_PASSWORD="bench-password")
    rows = []
    for kind in kinds:
        port = free_port()
        process = start_server(kind, port, env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process)
            for n in counts:
                cpu0, own0, t0 = cpu_seconds(process.pid), time.process_time(), time.monotonic()
                r = run_clients(url, frames, n, args.fps, args.seconds)
                wall = time.monotonic() - t0
                cpu = (cpu_seconds(process.pid) - cpu0) / wall * 100
                own = (time.process_time() - own0) / wall * 100
                rows.append([kind, n, r["fps"], r["rtt_p50"], r["rtt_p95"], r["rtt_p99"],
                             r["server_p50"], r["errors"], f"{cpu:.0f}%", f"{own:.0f}%"])
                if r["first_error"]:
                    print(f"  {kind} x{n}: first error: {r['first_error'][:200]}")
        finally:
            process.terminate()
            process.wait(30)
    print(benchmark.format_table(rows, ["server", "clients", "frames/s", "rtt p50", "rtt p95",
                                        "rtt p99", "server p50", "errors", "server CPU",
                                        "clients CPU"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
