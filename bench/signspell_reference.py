"""The packaged signspell model (PyPI, an LSTM over 30 frames of landmarks) on motion-v1's
held-out people: the reference the motion reader is measured against.

    pip download signspell==2.0.1 --no-deps -d /tmp/signspell
    unzip -o /tmp/signspell/signspell-2.0.1-py3-none-any.whl -d /tmp/signspell/x
    python -m bench.signspell_reference /tmp/signspell/x/asl_alphabet/models/alphabet_model.h5

Nothing is installed or downloaded by the product: the .h5 is read with plain Keras (its
package's pins are not needed). Its contract (asl_alphabet/config.py and recognizer.py):
30 frames of the right hand's 21 MediaPipe landmarks, raw x, y, z (63 numbers a frame, zeros
without a hand), a softmax over A-Z. Each recording is stretched to 30 frames by linear
interpolation over time (the frames with a hand; the model was made for 30-frame windows of
whole signs). Printed per held-out person: J found, Z found (signspell's top answer), J or Z
answered on static letters and on word signs, and its static letters read right.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from webapp import config as app_config
from webapp.files import DataError
from webapp.model.track import TrackSpec
from webapp.serve.benchmark import format_table
from webapp.train.motion import MOTION_SPLIT, load_tracks, per_person, targets

LETTERS = tuple(chr(65 + k) for k in range(26))
FRAMES = 30


def as_signspell(track: np.ndarray) -> np.ndarray | None:
    """(T, 21, 3) -> (30, 63): the frames with a hand, stretched over 30 frames."""
    hand = track[np.any(track != 0, axis=(1, 2))].reshape(-1, 63)
    if len(hand) < 2:
        return None
    old = np.linspace(0, 1, len(hand))
    new = np.linspace(0, 1, FRAMES)
    return np.stack([np.interp(new, old, hand[:, k]) for k in range(63)], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signspell_reference")
    parser.add_argument("model", help="signspell's alphabet_model.h5 (see the module doc)")
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    import keras

    try:
        model = keras.saving.load_model(args.model, compile=False)
        data = load_tracks(args.data or app_config.motion_dir())
    except (OSError, ValueError, DataError) as exc:
        print(f"bench.signspell_reference: error: {exc}", file=sys.stderr)
        return 2
    held = data.subset(np.array([MOTION_SPLIT.role(s) == "held_out" for s in data.signers]))
    reads = [as_signspell(t) for t in held.tracks]
    valid = np.array([r is not None for r in reads])
    x = np.stack([r if r is not None else np.zeros((FRAMES, 63)) for r in reads])
    answer = np.array(LETTERS)[np.asarray(model.predict(x, verbose=0)).argmax(axis=1)]
    answer = np.where(valid, answer, "-")
    # Its J and Z counted as the motion reader's are (per_person), plus its static letters.
    spec = TrackSpec()
    index = {letter: k for k, letter in enumerate(spec.answers) if letter}
    scored = per_person(held, np.array([index.get(a, 0) for a in answer]), spec)
    static = (np.char.str_len(held.labels) == 1) & (targets(held.labels, spec) == 0)
    rows = []
    for person, row in scored.items():
        mine = static & (held.signers == person)
        cells = [f"{found}/{n}" if n else "-" for found, n in row.values()]
        rows.append([person, *cells,
                     f"{int((answer[mine] == held.labels[mine]).sum())}/{int(mine.sum())}"])
    print(f"signspell {args.model} ({model.count_params():,} weights) on the held-out people of "
          f"{MOTION_SPLIT.name}; data sha256 {data.sha256}")
    print(format_table(rows, ["person", "J found", "Z found", "J/Z on static letters",
                              "J/Z on word signs", "static letters right"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
