"""Empty rooms: false letters per minute on hand-free frames, scene by scene, in the live page.

    python -m bench.empty_room [--minutes 2] [--model PATH.keras] [--people] [--threshold 0.6]

The scenes are those of tests/browser/test_empty_room.py (built by tests/browser/rooms.py):
for each held-out raw-webcam source of the photo split, a region of a room (a wall, a
ceiling) clear of the hand that the page's own locator finds in its photos, and one synthetic
room; with --people also 'person, no hand' scenes (the signer's head and shoulders, the hand
out of the picture). The real server (gunicorn, as docs/DEPLOY.md runs it) serves the shipped
model, $SIGNLIVE_MODELS/$SIGNLIVE_MODEL, or --model. For each scene, headless Chromium opens
the live page with a fake camera that shows it (with a little sensor noise), waits for the
hand locator, then watches for --minutes split evenly over the scenes: frames answered,
frames sent with a hand box, answers that showed a letter (confidence >= threshold) and
letters appended to the transcript. letters/min = letters appended per minute watched. A
scene read as one letter throughout spells it once only (the stream decoder commits a letter
again only after the hand has moved or left, webapp/serve/decoder.py): 'shown as letter' counts
every frame it showed one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.live_latency import free_port, wait_healthy
from bench.loadgen import server_env, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
LOCATOR_TIMEOUT_MS = 90_000
CONNECTED = ("() => document.body.dataset.camera === 'running' && "
             "document.getElementById('video').videoWidth > 0 && "
             "document.getElementById('status').dataset.state === 'connected'")
LOCATOR_SETTLED = "() => ['on', 'failed', 'off'].includes(document.body.dataset.handLocator)"


def crop_of(model: Path) -> str:
    """The model's crop mode from its metadata: "hand" or "guide" (the default)."""
    meta = model.with_suffix(".json")
    return (json.loads(meta.read_text()).get("crop") if meta.is_file() else None) or "guide"


def watch_scene(pw, url: str, video: Path, seconds: float) -> dict:
    """The live page on a fake camera playing `video`, watched for `seconds` once the hand
    locator has settled: what rooms.READ_WATCH reports, plus the locator state and errors."""
    from rooms import READ_WATCH, WATCH

    browser = pw.chromium.launch(executable_path=CHROMIUM,
                                 args=[*ARGS, f"--use-file-for-fake-video-capture={video}"])
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/")
        page.wait_for_function(CONNECTED, timeout=60_000)
        page.wait_for_function(LOCATOR_SETTLED, timeout=LOCATOR_TIMEOUT_MS)
        locator = page.get_attribute("body", "data-hand-locator")
        page.evaluate(WATCH)
        page.wait_for_timeout(seconds * 1000)
        seen = page.evaluate(READ_WATCH)
        seen.update(locator=locator, page_errors=errors)
        return seen
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="watched in all, split evenly over the scenes (default 2)")
    parser.add_argument("--model", help="a .keras file (its .json beside it); default: "
                        "models/default, or $SIGNLIVE_MODELS/$SIGNLIVE_MODEL")
    parser.add_argument("--people", action="store_true",
                        help="also the 'person, no hand' scenes")
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="the server's confidence threshold (default 0.6)")
    parser.add_argument("--photos", help="photo folder (default ../shared/photos or "
                                         "$SIGNLIVE_PHOTOS); without one, the synthetic room only")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    if not 0.0 <= args.threshold <= 1.0:
        parser.error("--threshold must be in 0-1")

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from playwright.sync_api import sync_playwright
    from rooms import empty_rooms, model_under_test, rooms_video

    from webapp import config
    from webapp.serve import benchmark

    model = Path(args.model) if args.model else model_under_test()
    if model.suffix != ".keras" or not model.is_file():
        parser.error(f"{model}: no such .keras model file")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: `make browser-deps` installs it")
    folder = Path(tempfile.mkdtemp(prefix="signlive-empty-room-"))
    photos = config.photos_dir(args.photos)
    scenes = empty_rooms(photos if photos.is_dir() else None, folder / "locate",
                         people=args.people)
    if not photos.is_dir():
        print(f"note: {photos} is missing: the synthetic room only")
    seconds = args.minutes * 60.0 / len(scenes)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_gunicorn(port, 16, server_env(
        model.parent, model.stem, str(folder / "instance"),
        SIGNLIVE_CONFIDENCE_THRESHOLD=str(args.threshold)))
    rows = []
    totals = {"frames": 0, "boxed": 0, "seconds": 0.0, "shown": 0, "appended": 0, "top": 0.0}
    failed = False
    try:
        wait_healthy(url, process)
        print(f"empty rooms: model {model} ({crop_of(model)} crop), threshold "
              f"{args.threshold:g}, {len(scenes)} scenes x {seconds:.0f} s, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        with sync_playwright() as pw:
            for index, scene in enumerate(scenes):
                video = rooms_video(folder / f"scene-{index}.y4m", [scene.frame], seed=index)
                seen = watch_scene(pw, url, video, seconds)
                video.unlink()
                minutes = seen["seconds"] / 60.0
                appended = "".join(seen["appended"])
                row = [scene.name, seen["predictions"], seen["boxed"], round(seen["seconds"], 1),
                       len(seen["letters"]), len(appended),
                       len(appended) / minutes if minutes else float("nan"),
                       seen["maxConfidence"], appended or "-"]
                rows.append(row)
                print(f"  {scene.name}: {seen['predictions']} frames in {seen['seconds']:.0f} s, "
                      f"locator {seen['locator']}, appended {appended or 'nothing'}", flush=True)
                failed |= bool(seen["page_errors"]) or seen["predictions"] == 0
                for key, value in (("frames", seen["predictions"]), ("boxed", seen["boxed"]),
                                   ("seconds", seen["seconds"]), ("shown", len(seen["letters"])),
                                   ("appended", len(appended))):
                    totals[key] += value
                totals["top"] = max(totals["top"], seen["maxConfidence"])
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(folder, ignore_errors=True)  # the photo copies and videos with it

    minutes = totals["seconds"] / 60.0
    rows.append([f"all {len(scenes)} scenes", totals["frames"], totals["boxed"],
                 round(totals["seconds"], 1), totals["shown"], totals["appended"],
                 totals["appended"] / minutes if minutes else float("nan"), totals["top"], ""])
    print()
    print(benchmark.format_table(rows, ["scene", "frames", "with box", "seconds",
                                        "shown as letter", "letters appended", "letters/min",
                                        "top conf", "appended"]))
    if failed:
        print("FAIL: a page error, or a scene with no frame answered")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
