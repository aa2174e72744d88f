"""Kiosk soak: /kiosk open in headless Chromium for N minutes; JS heap and DOM nodes flat?

    python -m bench.kiosk_soak [--minutes 10] [--every 30] [--url URL]

The fake camera plays a loop of Sign Language MNIST test letters held in the guide square
with empty gaps between them (tests/browser/y4m.py writes it), so the page keeps recognising,
spelling, and clearing its transcript on idle, as a kiosk does all day. Every --every seconds
the Chrome DevTools Protocol (through Playwright) forces a garbage collection and reads
`Performance.getMetrics`: JSHeapUsedSize, Nodes, JSEventListeners, Documents. Passes (exit 0)
when, from the first sample after the warm-up to the last, the DOM node and listener counts
stay flat (at most 20 nodes / 5 listeners more: the transcript's text varies), the used JS
heap grows by less than --max-heap-growth MB, frames keep being answered, and no script
error occurred.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.live_latency import free_port, model_location, wait_healthy
from bench.loadgen import scrape, server_env, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
METRICS = ("JSHeapUsedSize", "Nodes", "JSEventListeners", "Documents", "Frames")


def camera_video(folder: Path) -> Path:
    """Twelve letters, each held 1.5 s with 1 s gaps, on a lit wall (loops in Chromium)."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from y4m import background, spelling_video

    from webapp import config
    from webapp.train import signmnist

    samples = [image for image, _ in signmnist.letter_samples(config.data_dir())][::2]
    return spelling_video(folder / "kiosk.y4m", samples, background(90), lead_s=1.0,
                          hold_s=1.5, gap_s=1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the baseline")
    parser.add_argument("--url", help="an already running server (default: start gunicorn)")
    parser.add_argument("--max-heap-growth", type=float, default=5.0, help="MB allowed")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="signlive-kiosk-soak-"))
    video = camera_video(folder)
    process = None
    url = args.url
    if not url:
        models_dir, name, _ = model_location()
        port = free_port()
        process = start_gunicorn(port, 16, server_env(models_dir, name, str(folder / "inst")))
        url = f"http://127.0.0.1:{port}"
    samples: list[dict] = []
    try:
        if process is not None:
            wait_healthy(url, process)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=[*ARGS, f"--use-file-for-fake-video-capture={video}"])
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/kiosk")
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            start = time.monotonic()
            end = start + args.minutes * 60.0
            print(f"kiosk soak: {url}/kiosk for {args.minutes:g} min, a sample every "
                  f"{args.every:g} s (after a forced GC); load average {os.getloadavg()[0]:.1f}",
                  flush=True)
            while True:
                cdp.send("HeapProfiler.collectGarbage")
                values = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")
                          ["metrics"] if m["name"] in METRICS}
                values["t"] = time.monotonic() - start
                values["answered"] = scrape(url).get("signlive_frames_answered_total", 0)
                values["transcript"] = page.evaluate(
                    "() => window.signlive ? window.signlive.speller.text.length : -1")
                samples.append(values)
                print(f"  t={values['t']:5.0f} s  heap {values['JSHeapUsedSize'] / 2**20:6.2f} MB"
                      f"  nodes {int(values['Nodes']):5d}  listeners "
                      f"{int(values['JSEventListeners']):4d}  documents "
                      f"{int(values['Documents'])}  frames answered {int(values['answered'])}"
                      f"  transcript {values['transcript']} chars", flush=True)
                if time.monotonic() >= end:
                    break
                page.wait_for_timeout(min(args.every, end - time.monotonic()) * 1000)
            browser.close()
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)

    base = next((s for s in samples if s["t"] >= args.warmup), samples[0])
    last = samples[-1]
    heap = (last["JSHeapUsedSize"] - base["JSHeapUsedSize"]) / 2**20
    nodes = int(last["Nodes"] - base["Nodes"])
    listeners = int(last["JSEventListeners"] - base["JSEventListeners"])
    streamed = last["answered"] - base["answered"]
    print(f"\nfrom t={base['t']:.0f} s to t={last['t']:.0f} s: JS heap {heap:+.2f} MB, DOM nodes "
          f"{nodes:+d} (max {int(max(s['Nodes'] for s in samples))}), listeners "
          f"{listeners:+d}, frames answered {int(streamed)}, page errors {len(errors)}")
    ok = (heap < args.max_heap_growth and nodes <= 20 and listeners <= 5 and streamed > 0
          and not errors)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
