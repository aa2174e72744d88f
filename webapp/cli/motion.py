"""`signlive motion` (J, Z or neither for landmark tracks in .npy/.npz files) and
`signlive train-motion` (the motion reader from ../shared/motion, in one command)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from webapp import config
from webapp.model.handshape import NUM_LANDMARKS
from webapp.model.registry import load_motion_file
from webapp.model.track import TrackError, best_window

MOTION_MODEL = "motion"  # models/motion.keras: the shipped motion reader


def read_track_file(path: Path) -> np.ndarray:
    """(N, T, 21, 3) float32 from a .npy of (N, T, 21, 3) or (T, 21, 3), or an .npz whose
    `tracks` array is one of those; ValueError saying what is wrong otherwise."""
    if path.suffix not in (".npy", ".npz"):
        raise ValueError("expected a .npy or .npz file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read it as numpy data ({exc})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "tracks" not in loaded.files:
                raise ValueError(f"no `tracks` array in it (it holds {', '.join(loaded.files)})")
            array = loaded["tracks"]
    else:
        array = loaded
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[2:] != (NUM_LANDMARKS, 3) or not array.shape[1]:
        raise ValueError(f"tracks of shape {tuple(array.shape)}; expected (N, T, "
                         f"{NUM_LANDMARKS}, 3) or (T, {NUM_LANDMARKS}, 3)")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"tracks of type {array.dtype}; expected numbers")
    return array.astype(np.float32)


def cmd_motion(args: argparse.Namespace) -> int:
    """One line per track: PATH[INDEX], J / Z / -, confidence; bad files get an error line."""
    if not (math.isfinite(args.fps) and 0 < args.fps <= 1000):
        raise ValueError(f"--fps must be a number of frames a second in (0, 1000], "
                         f"got {args.fps}")
    path = Path(args.model) if args.model else config.models_dir() / f"{MOTION_MODEL}.keras"
    loaded = load_motion_file(path)

    def probs_of(windows: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.model(windows, training=False))

    failed = 0
    for name in args.tracks:
        try:
            tracks = read_track_file(Path(name))
            answers = [best_window(probs_of, loaded.spec, track,
                                   np.arange(len(track)) / args.fps) for track in tracks]
        except (ValueError, TrackError) as exc:
            failed += 1
            print(f"signlive motion: error: {name}: {exc}", file=sys.stderr)
            continue
        for index, (letter, confidence) in enumerate(answers):
            if args.json:
                print(json.dumps({"path": name, "index": index, "letter": letter,
                                  "confidence": round(confidence, 4)}))
            else:
                print(f"{name}[{index}]\t{letter or '-'}\t{confidence:.4f}")
    return 1 if failed else 0


def cmd_train_motion(args: argparse.Namespace) -> int:
    """Train the motion reader on the split's training people; print the held-out figures."""
    from webapp.train.motion import MotionConfig, train_motion  # deferred: it loads Keras

    members = {} if args.members is None else {"members": args.members}
    metadata = train_motion(MotionConfig(
        data_dir=args.data, models_dir=args.models_dir, name=args.name, epochs=args.epochs,
        seed=args.seed, **members), progress=print)
    print(f"saved {args.name}: best epoch {metadata['best_epoch']}, validation score "
          f"{metadata['validation_score']:.4f}, {metadata['training_seconds']:.0f} s")
    for person, row in metadata["held_out_people"].items():
        print(f"  held out {person:<14} " + "  ".join(
            f"{key} {found}/{n}" for key, (found, n) in row.items()))
    return 0
