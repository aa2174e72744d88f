"""The motion reader on the held-out people of motion-v1: per person, per frame rate, per speed.

    python -m bench.motion_sweep [--model models/motion.keras] [--data DIR]
                                 [--fps 3,5,10,15,20] [--speeds 0.5,0.75,1,1.5,2]

Every held-out recording goes through what `signlive motion` does with a track
(webapp/model/track.best_window: one-second windows, the surest speaks). The recordings carry
no timestamps; taken at RECORDED_FPS (20), they are thinned to each frame rate (every k-th
frame kept) and stretched in time for each speed (2: the stroke drawn in twice the time).
Printed per person: J found, Z found, and J or Z read on static letters and on word signs.
Nothing here chose anything: the reader was trained and chosen without these people.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from webapp import config as app_config
from webapp.files import DataError
from webapp.model.registry import ModelError, load_motion_file
from webapp.model.track import best_window
from webapp.serve.benchmark import format_table
from webapp.train.motion import MOTION_SPLIT, RECORDED_FPS, load_tracks, per_person, targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.motion_sweep")
    parser.add_argument("--model", default=str(app_config.models_dir() / "motion.keras"))
    parser.add_argument("--data", default=None)
    parser.add_argument("--fps", default="3,5,10,15,20")
    parser.add_argument("--speeds", default="0.5,0.75,1,1.5,2")
    args = parser.parse_args(argv)
    try:
        loaded = load_motion_file(args.model)
        data = load_tracks(args.data or app_config.motion_dir())
        rates = [float(v) for v in args.fps.split(",")]
        speeds = [float(v) for v in args.speeds.split(",")]
    except (ModelError, DataError, ValueError) as exc:
        print(f"bench.motion_sweep: error: {exc}", file=sys.stderr)
        return 2
    held = data.subset(np.array([MOTION_SPLIT.role(s) == "held_out" for s in data.signers]))
    spec = loaded.spec
    index = {letter: k for k, letter in enumerate(spec.answers)}

    def probs_of(windows: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.model(windows, training=False))

    def sweep(fps: float, speed: float) -> dict:
        step = max(1, round(RECORDED_FPS / fps))
        read = []
        for track in held.tracks:
            keep = np.arange(0, len(track), step)
            letter, _ = best_window(probs_of, spec, track[keep],
                                    keep / RECORDED_FPS * speed)
            read.append(index[letter])
        return per_person(held, np.array(read), spec)

    print(f"model {loaded.name} ({loaded.path}); held-out people of {MOTION_SPLIT.name}: "
          f"{', '.join(sorted(set(held.signers)))} ({len(held):,} recordings, "
          f"{int((targets(held.labels, spec) > 0).sum())} J or Z); data sha256 {data.sha256}")
    started = time.perf_counter()
    cell = "{found}/{n}"
    for title, settings in (("frame rate (speed 1)", [(f, 1.0) for f in rates]),
                            ("speed (20 frames a second)", [(RECORDED_FPS, s) for s in speeds])):
        rows = []
        for fps, speed in settings:
            for person, row in sweep(fps, speed).items():
                rows.append([f"{fps:g}" if "rate" in title else f"{speed:g}x", person] + [
                    cell.format(found=found, n=n) if n else "-"
                    for found, n in row.values()])
        print(f"\n{title}")
        print(format_table(rows, ["fps" if "rate" in title else "speed", "person", "J found",
                                  "Z found", "J/Z on static letters", "J/Z on word signs"]))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
