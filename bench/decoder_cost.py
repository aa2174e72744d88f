"""What the stream decoder and the word suggestions add to the server's cost per frame.

    python -m bench.decoder_cost [--model models/default.keras] [--frames 20000]
                                 [--motion models/motion.keras]

Measured in one process, against the baseline of the same run: the served model's own cost
for one frame at batch 1 (JPEG decode, crop, gray, resize, compiled forward pass: what
`signlive bench` calls the server side). The decoder runs once per answered frame in the
inference worker (webapp/serve/decoder.py), and so does the motion reader for every frame with
a hand (webapp/serve/motionreader.py: the frame added to the track, the last second read);
suggestions once per finished word (webapp/serve/suggest.py).
The decoder is fed a stream like a signer's: letters held 4-8 frames, with transitions, the
hand moving, and no-hand stretches between words.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def stream(n: int, seed: int = 0):
    """n (t, probs, box) frames at 8 fps: letters held, transitions, words, no hand."""
    from webapp.model.letters import NUM_CLASSES

    rng = np.random.default_rng(seed)
    frames, t, k = [], 0.0, 0
    while len(frames) < n:
        for _ in range(int(rng.integers(3, 7))):  # a word of 3-6 letters
            letter = int(rng.integers(NUM_CLASSES))
            x = float(rng.uniform(100, 400))
            for _ in range(int(rng.integers(4, 9))):
                p = rng.dirichlet(np.full(NUM_CLASSES, 0.1))
                p = 0.2 * p
                p[letter] += 0.8
                frames.append((t, p, (x + rng.normal(0, 2), 120.0, 90.0, 90.0)))
                t += 0.125
                k += 1
        for _ in range(8):
            frames.append((t, None, None))
            t += 0.125
    return frames[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default.keras"))
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--motion", default=str(ROOT / "models" / "motion.keras"),
                        help="the motion reader (J, Z) measured beside the model")
    args = parser.parse_args(argv)
    if args.frames < 100:
        parser.error("--frames must be at least 100")
    model = Path(args.model)
    if model.suffix != ".keras" or not model.is_file():
        parser.error(f"{model}: no such .keras model file")

    from webapp.model.handshape import NUM_LANDMARKS, Hand
    from webapp.model.registry import load_model_file, load_motion_file
    from webapp.serve.benchmark import format_table
    from webapp.serve.decoder import StreamDecoder
    from webapp.serve.forward import prepare
    from webapp.serve.motionreader import MotionReader
    from webapp.serve.suggest import Lexicon

    lexicon = Lexicon.shared()
    if not lexicon.wait(120):
        print("error: the word list did not load", file=sys.stderr)
        return 1

    # Baseline: the served model on one 640x480 frame, as the worker runs it at batch 1.
    served = prepare(load_model_file(model), max_batch=1)
    rng = np.random.default_rng(1)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
    box = (250.0, 150.0, 120.0, 120.0)

    def one_frame() -> None:
        sample = served.spec.read(jpeg, box)
        served.forward(sample.image[None], sample.handshape[None])

    for _ in range(20):
        one_frame()
    runs = 300
    start = time.perf_counter()
    for _ in range(runs):
        one_frame()
    model_ms = (time.perf_counter() - start) * 1000 / runs

    frames = stream(args.frames)
    decoder = StreamDecoder()
    words = []
    start = time.perf_counter()
    for t, p, b in frames:
        step = decoder.update(t, p, b)
        if step.word:
            words.append(step.word)
    decoder_ms = (time.perf_counter() - start) * 1000 / len(frames)

    # The motion reader (J, Z): one frame's landmarks added to a connection's track and the
    # window ending there read, as the inference worker does for every frame with a hand.
    reader = MotionReader(load_motion_file(args.motion))
    hand = Hand(tuple((250.0 + 4 * i, 150.0 + 3 * i, 0.0) for i in range(NUM_LANDMARKS)))
    for k in range(30):
        reader.observe("bench", k / 15, (640, 480), hand)
    start = time.perf_counter()
    for k in range(runs):
        reader.observe("bench", 2 + k / 15, (640, 480), hand)
    motion_ms = (time.perf_counter() - start) * 1000 / runs

    start = time.perf_counter()
    for word in words:
        lexicon.suggest(word)
    suggest_ms = (time.perf_counter() - start) * 1000 / max(1, len(words))
    letters = sum(len(w) for w in words) / max(1, len(words))
    per_frame = suggest_ms * len(words) / len(frames)

    rows = [
        ["model: decode + crop + forward (baseline)", f"{model_ms:.3f}", "1.000"],
        ["stream decoder, per frame", f"{decoder_ms:.4f}", f"{decoder_ms / model_ms:.4f}"],
        ["motion reader (J, Z), per frame with a hand", f"{motion_ms:.3f}",
         f"{motion_ms / model_ms:.3f}"],
        [f"suggestions, per word ({letters:.1f} letters)", f"{suggest_ms:.3f}",
         f"{suggest_ms / model_ms:.3f}"],
        ["suggestions, spread over the word's frames", f"{per_frame:.4f}",
         f"{per_frame / model_ms:.4f}"],
    ]
    print(f"decoder cost: {len(frames)} frames, {len(words)} words; model {model.name} "
          f"({served.spec.input_size} px, {' + '.join(served.spec.inputs)})")
    print(format_table(rows, ["what", "ms", "x the model's cost"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
