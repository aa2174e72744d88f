"""The motion reader under leave-one-person-out cross-validation, person by person.

    python -m bench.motion_cv [--data DIR] [--epochs 12] [--weight-power 1.0] [--no-drift]
                              [--min-stroke 1.0]
                              [--thresholds 0.5,0.7,0.8,0.9] [--seed 0]

Why: `signlive train-motion` picks its epoch on one validation person, and a setting that
reads that person well need not read others well. This trains the reader exactly as
train-motion does (webapp/train/motion.fit_reader, fixed epochs) on all but one of the
split's non-held-out people, reads that person's recordings whole, and does so for each of
them: J and Z found, and motion letters read on static letters and on word signs, per
decision threshold; and a stress check, "drifting": that person's static letters read again
sliding and turning a little (train.motion.drifted, 0.6 hand sizes: a double letter's slide,
or a held hand's drift; a fixed seed), which live hands do and few recordings show. The
held-out people of motion-v1 are never read.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from webapp import config as app_config
from webapp.files import DataError
from webapp.model.track import TrackSpec
from webapp.train.motion import (
    MOTION_SPLIT,
    MotionConfig,
    drifted,
    fit_reader,
    load_tracks,
    per_person,
    read_as_recorded,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.motion_cv")
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--weight-power", type=float, default=1.0)
    parser.add_argument("--thresholds", default="0.5,0.7,0.8,0.9")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-stroke", type=float, default=MotionConfig.min_stroke,
                        help="hand sizes a motion letter's fingertip must travel")
    parser.add_argument("--no-drift", dest="drift", action="store_false",
                        help="train without drifting tracks (MotionConfig.drift off)")
    args = parser.parse_args(argv)
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
        config = MotionConfig(epochs=args.epochs, weight_power=args.weight_power,
                              seed=args.seed, drift=args.drift,
                              min_stroke=args.min_stroke).validate()
        data = load_tracks(args.data or app_config.motion_dir())
    except (ValueError, DataError) as exc:
        print(f"bench.motion_cv: error: {exc}", file=sys.stderr)
        return 2
    known = data.subset(np.array([MOTION_SPLIT.role(s) != "held_out" for s in data.signers]))
    people = sorted(set(known.signers))
    totals = {t: {"J": [0, 0], "Z": [0, 0], "static": [0, 0], "other": [0, 0],
                  "drifting": [0, 0]} for t in thresholds}
    print(f"leave one person out over {', '.join(people)} ({len(known):,} recordings); "
          f"{args.epochs} epochs, weight power {args.weight_power}")
    for person in people:
        model, _, _, _ = fit_reader(known.subset(known.signers != person), None, config.spec(),
                                    config, progress=lambda line: None)
        mine = known.subset(known.signers == person)
        x, valid = read_as_recorded(mine, config.spec())
        probs = model.predict(x, verbose=0)
        static = mine.subset(np.char.str_len(mine.labels) == 1)
        static = static.subset(~np.isin(static.labels, ["J", "Z"]))
        rng = np.random.default_rng(1000)
        static.tracks = [drifted(track, rng, amount=0.6) for track in static.tracks]
        x_drift, valid_drift = read_as_recorded(static, config.spec())
        drift_probs = model.predict(x_drift, verbose=0) if len(static) else np.zeros((0, 3))
        # (a person with no static letters reads none: 0 of 0)
        for t in thresholds:
            spec = TrackSpec(config.steps, config.window_s, t, config.min_stroke)
            row = per_person(mine, np.where(valid, spec.decide(probs, x), 0), spec)[person]
            row["drifting"] = [int((np.where(valid_drift, spec.decide(drift_probs, x_drift), 0)
                                    > 0).sum()) if len(static) else 0, len(static)]
            print(f"  {person:<14} threshold {t:.2f}: " + "  ".join(
                f"{key} {found}/{n}" for key, (found, n) in row.items()))
            for key, (found, n) in row.items():
                totals[t][key][0] += found
                totals[t][key][1] += n
    print("all people:")
    for t, row in totals.items():
        print(f"  threshold {t:.2f}: " + "  ".join(
            f"{key} {found}/{n} ({found / n:.1%})" if n else f"{key} -"
            for key, (found, n) in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
