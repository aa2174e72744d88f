"""The motion reader under leave-one-person-out cross-validation, person by person.

    python -m bench.motion_cv [--data DIR] [--epochs 12] [--weight-power 1.0]
                              [--thresholds 0.5,0.7,0.8,0.9] [--seed 0]

Why: `signlive train-motion` picks its epoch on one validation person, and a setting that
reads that person well need not read others well. This trains the reader exactly as
train-motion does (webapp/train/motion.fit_reader, fixed epochs) on all but one of the
split's non-held-out people, reads that person's recordings whole, and does so for each of
them: J and Z found, and motion letters read on static letters and on word signs, per
decision threshold. The held-out people of motion-v1 are never read.
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
    args = parser.parse_args(argv)
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
        config = MotionConfig(epochs=args.epochs, weight_power=args.weight_power,
                              seed=args.seed).validate()
        data = load_tracks(args.data or app_config.motion_dir())
    except (ValueError, DataError) as exc:
        print(f"bench.motion_cv: error: {exc}", file=sys.stderr)
        return 2
    known = data.subset(np.array([MOTION_SPLIT.role(s) != "held_out" for s in data.signers]))
    people = sorted(set(known.signers))
    totals = {t: {"J": [0, 0], "Z": [0, 0], "static": [0, 0], "other": [0, 0]}
              for t in thresholds}
    print(f"leave one person out over {', '.join(people)} ({len(known):,} recordings); "
          f"{args.epochs} epochs, weight power {args.weight_power}")
    for person in people:
        model, _, _, _ = fit_reader(known.subset(known.signers != person), None, config.spec(),
                                    config, progress=lambda line: None)
        mine = known.subset(known.signers == person)
        x, valid = read_as_recorded(mine, config.spec())
        probs = model.predict(x, verbose=0)
        for t in thresholds:
            spec = TrackSpec(config.steps, config.window_s, t)
            row = per_person(mine, np.where(valid, spec.decide(probs), 0), spec)[person]
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
