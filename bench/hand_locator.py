"""What finding the hand costs the page: MediaPipe Hands' lite against its full landmark model.

    python -m bench.hand_locator [--frames 120] [--photos DIR] [--per-source 4] [--gray]

The page's own HandLocator (static/js/hand-locator.js), in headless Chromium (CPU, WASM), on
640x480 frames drawn from real webcam photos (the split's held-out raw-webcam sources, a few
photos each; only timed here, nothing is chosen on them). Two modes: "video", as the live
and kiosk pages run it (each photo held for several frames in a row, so MediaPipe tracks the
hand), and "photo", as `signlive locate` runs it (palm detection on every image, the graph
reset first). Each also on frames of a plain wall, where no hand is found and the locator
takes its padded second look (RETRY_PADDING). Prints ms per frame (p50, p90), the frames where
a hand was found, and each row's p50 against the lite model's on the hands in the same mode,
measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from webapp import config
from webapp.train import photofolder, splits
from webapp.train.locate import CHROMIUM, CHROMIUM_FLAGS, serve_photos

TIMED = """async ({urls, frames, gray}) => {
  const { HandLocator } = await import("/static/js/hand-locator.js");
  const images = [];
  for (const url of urls) {
    const img = new Image();
    img.src = url;
    await img.decode();
    images.push(img);
  }
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const ctx = canvas.getContext("2d");
  if (gray) ctx.filter = "grayscale(1)";
  const wall = ctx.createLinearGradient(0, 0, 640, 480);  // a hand-free frame: a plain wall
  wall.addColorStop(0, "#5a5a5a");
  wall.addColorStop(1, "#a0a0a0");
  const rows = [];
  for (const mode of ["video", "photo"]) {
    for (const [model, complexity] of [["lite", 0], ["full", 1]]) {
      const staticImages = mode === "photo";
      const locator = new HandLocator({ staticImages, modelComplexity: complexity });
      await locator.ready();
      ctx.drawImage(images[0], 0, 0, 640, 480);
      await locator.find(canvas, 640, 480);  // warm-up: the first pass compiles
      for (const scene of ["hands", "wall"]) {
        const times = [];
        let found = 0;
        for (let i = 0; i < frames; i++) {
          if (scene === "hands") {
            ctx.drawImage(images[Math.floor((i * images.length) / frames)], 0, 0, 640, 480);
          } else {
            ctx.fillStyle = wall;
            ctx.fillRect(0, 0, 640, 480);
          }
          const start = performance.now();
          const hand = await locator.find(canvas, 640, 480);
          times.push(performance.now() - start);
          if (hand) found++;
        }
        rows.push({ mode, model, scene, times, found });
      }
      await locator.close();
    }
  }
  return rows;
}"""


def pick_photos(folder: Path, per_source: int) -> list[str]:
    """`per_source` photos of each held-out raw-webcam source, spread over its letters (the
    folder's sorted order, so always the same), as paths relative to `folder`."""
    split = splits.load(splits.DEFAULT_SPLIT)
    wanted = split.held_out & split.raw_webcam
    by_source: dict[str, list[Path]] = {}
    for photo, _ in photofolder.list_photos(folder)[0]:
        if photofolder.photo_source(photo) in wanted:
            by_source.setdefault(photofolder.photo_source(photo), []).append(photo)
    picked: list[str] = []
    for source in sorted(by_source):
        photos = by_source[source]
        step = max(1, len(photos) // per_source)
        picked += [photo.relative_to(folder).as_posix() for photo in photos[::step][:per_source]]
    return picked


def run(folder: Path, frames: int, per_source: int, gray: bool = False) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rels = pick_photos(folder, per_source)
    if not rels:
        raise SystemExit(f"{folder}: no photos of the held-out raw-webcam sources to time on")
    server, base = serve_photos(folder)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS))
            try:
                page = browser.new_page()
                page.goto(f"{base}/static/locate.html")
                page.wait_for_function("window.locatorReady", timeout=120_000)
                urls = [f"{base}/photos/{rel}" for rel in rels]
                return page.evaluate(TIMED, {"urls": urls, "frames": frames, "gray": gray})
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="timed frames per row")
    parser.add_argument("--photos", default=None, help="photo folder (default ../shared/photos)")
    parser.add_argument("--per-source", type=int, default=4, help="photos per source")
    parser.add_argument("--gray", action="store_true",
                        help="draw the frames gray (as the browser tests' fake cameras show them)")
    args = parser.parse_args(argv)
    folder = Path(config.photos_dir(args.photos))
    rows = run(folder, max(1, args.frames), max(1, args.per_source), args.gray)
    base = {row["mode"]: statistics.median(row["times"]) for row in rows
            if row["model"] == "lite" and row["scene"] == "hands"}
    print(f"{'mode':<7}{'landmarks':<11}{'scene':<7}{'frames':>7}{'found':>7}{'p50 ms':>9}"
          f"{'p90 ms':>9}{'p50 / lite hands':>18}")
    for row in rows:
        times = sorted(row["times"])
        p50 = statistics.median(times)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(f"{row['mode']:<7}{row['model']:<11}{row['scene']:<7}{len(times):>7}"
              f"{row['found']:>7}{p50:>9.1f}{p90:>9.1f}{p50 / base[row['mode']]:>17.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
