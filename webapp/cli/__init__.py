"""`signlive serve / train / evaluate / predict / locate / fuse / motion / bench`: the command
line.

The parser and main() are here; each subcommand's handler (cli/train.py, cli/scoring.py,
cli/tools.py) turns its flags into a call to the module that owns the work.
Bad input of any kind ends with one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

from webapp.cli.motion import cmd_motion, cmd_train_motion
from webapp.cli.scoring import cmd_evaluate, cmd_predict
from webapp.cli.tools import cmd_bench, cmd_locate, cmd_serve
from webapp.cli.train import cmd_fuse, cmd_train
from webapp.model.preprocess import DEFAULT_CROP_FRACTION, DEFAULT_INPUT_SIZE
from webapp.train.splits import DEFAULT_SPLIT

# TensorFlow's start-up chatter, written straight to fd 2 before its logging is set up
# (whatever TF_CPP_MIN_LOG_LEVEL says): a line holding any of these is dropped.
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cudart_stub.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions",
    "failed call to cuInit",
    "Unable to register cu",
    "computation placer already registered",
    "TF-TRT Warning",
)


def without_startup_noise(text: str) -> str:
    """`text` without the lines of TensorFlow's start-up chatter (STARTUP_NOISE)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(noise in line for noise in STARTUP_NOISE))


def _import_keras_quietly() -> None:
    """Import Keras (and probe the devices) with file descriptor 2 caught, then pass on what
    was written there except TensorFlow's start-up chatter (STARTUP_NOISE): tables and
    one-line errors stay readable, and a real native error still shows. Python exceptions
    are raised after fd 2 is restored."""
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        try:
            os.dup2(caught.fileno(), 2)
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            sys.stderr.write(without_startup_noise(caught.read().decode("utf-8", "replace")))
            sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signlive", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the development server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--model", default=None, help="model name in the models folder to serve")
    serve.set_defaults(handler=cmd_serve)

    train = commands.add_parser("train", help="train a model and register it in the models folder")
    train.add_argument("--arch", choices=("cnn", "resnet", "resnet50"), default="resnet")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--data", default=None,
                       help="CSV data folder or <LETTER>/ photo folder "
                            "(default: $SIGNLIVE_DATA or ../shared/data)")
    train.add_argument("--crop-fraction", type=float, default=DEFAULT_CROP_FRACTION,
                       help="guide-square fraction for photo folders (default 400/480)")
    train.add_argument("--name", default=None, help="model name (default: ARCH-TIMESTAMP)")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--no-augment", dest="augment", action="store_false")
    train.add_argument("--val-fraction", type=float, default=0.1)
    train.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without val improvement (0: off)")
    train.add_argument("--limit", type=int, default=0, help="use only the first N training rows")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--negatives", type=float, default=0.1, metavar="FRACTION",
                       help="add hand-free pictures (FRACTION x the training rows) that train "
                            "towards 'no sign' (default 0.1; 0: none)")
    train.add_argument("--train-on", choices=("csv", "photos", "both"), default="csv",
                       help="Sign MNIST (csv, from --data), the photo folder (--photos), or "
                            "both mixed (default csv)")
    train.add_argument("--photos", default=None,
                       help="<LETTER>/ photo folder (default: $SIGNLIVE_PHOTOS or "
                            "../shared/photos); run `signlive locate` on it first")
    train.add_argument("--crop", choices=("hand", "guide"), default="hand",
                       help="photos: crop around the located hand (default) or the guide square")
    train.add_argument("--split", default=DEFAULT_SPLIT,
                       help=f"named photo split; its held-out sources are never read "
                            f"(default {DEFAULT_SPLIT})")
    train.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE,
                       help=f"model input side in pixels (default {DEFAULT_INPUT_SIZE})")
    train.add_argument("--models-dir", default=None)
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="accuracy, per-class metrics, confusion matrix")
    evaluate.add_argument("--model", required=True, help="path to a .keras model file")
    evaluate.add_argument("--data", default=None, help="CSV data folder or <LETTER>/ photo folder")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--crop-fraction", type=float, default=None,
                          help="guide-square fraction for photo folders (default: the model's)")
    evaluate.add_argument("--crop", choices=("hand", "guide"), default=None,
                          help="photo folders: crop around the located hand or the guide "
                               "square (default: the model's own, from its metadata)")
    evaluate.add_argument("--split", default=DEFAULT_SPLIT,
                          help="photo folders: score only the held-out sources of this named "
                               f"split (default {DEFAULT_SPLIT}; 'none': every photo)")
    evaluate.add_argument("--record", action="store_true",
                          help="photo folders: keep the held-out score in the model's .json "
                               "(the admin's models table shows it first)")
    evaluate.add_argument("--out", default=None, help="folder for confusion.png/.json")
    evaluate.add_argument("--limit", type=int, default=0, help="use only the first N test rows")
    evaluate.add_argument("--threshold", type=float, default=0.6,
                          help="confidence at which the live page shows a letter (for the "
                               "hand-free check; default 0.6)")
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser("predict", help="predict the letter of image files")
    predict.add_argument("--model", required=True, help="path to a .keras model file")
    predict.add_argument("--crop-fraction", type=float, default=None,
                         help="guide-square fraction (default: the model's, else 400/480)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.set_defaults(handler=cmd_predict)

    locate_cmd = commands.add_parser(
        "locate", help="find the hand in each photo of a folder (headless Chromium, cached)")
    locate_cmd.add_argument("folder", metavar="PHOTO_DIR", help="<LETTER>/<image> photo folder")
    locate_cmd.add_argument("--jobs", type=int, default=2, help="Chromium processes (default 2)")
    locate_cmd.add_argument("--cache", default=None,
                            help="box cache file (default: the signlive cache folder)")
    locate_cmd.set_defaults(handler=cmd_locate)

    fuse_cmd = commands.add_parser(
        "fuse", help="add the hand's shape (MediaPipe landmarks) to a hand-crop model")
    fuse_cmd.add_argument("--base", required=True,
                          help="the hand-crop image model (.keras) to build on; kept frozen")
    fuse_cmd.add_argument("--photos", default=None,
                          help="<LETTER>/ photo folder with located hands (default: "
                               "$SIGNLIVE_PHOTOS or ../shared/photos)")
    fuse_cmd.add_argument("--split", default=DEFAULT_SPLIT,
                          help=f"named photo split: trains on its training sources, chooses on "
                               f"its validation sources, never reads the held-out ones "
                               f"(default {DEFAULT_SPLIT})")
    fuse_cmd.add_argument("--epochs", type=int, default=40)
    fuse_cmd.add_argument("--seed", type=int, default=0)
    fuse_cmd.add_argument("--name", default=None, help="model name (default: BASE-handshape)")
    fuse_cmd.add_argument("--models-dir", default=None)
    fuse_cmd.set_defaults(handler=cmd_fuse)

    motion = commands.add_parser(
        "motion", help="read J, Z or neither from hand-landmark tracks (.npy / .npz)")
    motion.add_argument("--fps", type=float, default=30.0,
                        help="frames a second of the tracks (default 30)")
    motion.add_argument("--json", action="store_true", help="one JSON object per line")
    motion.add_argument("--model", default=None,
                        help="the motion reader (.keras; default: models/motion.keras)")
    motion.add_argument("tracks", nargs="+", metavar="TRACKS")
    motion.set_defaults(handler=cmd_motion)

    train_motion = commands.add_parser(
        "train-motion", help="train the motion reader (J, Z) on ../shared/motion, by person")
    train_motion.add_argument("--data", default=None,
                              help="folder of .npz track files (default: $SIGNLIVE_MOTION or "
                                   "../shared/motion)")
    train_motion.add_argument("--name", default="motion")
    train_motion.add_argument("--epochs", type=int, default=40)
    train_motion.add_argument("--seed", type=int, default=0)
    train_motion.add_argument("--members", type=int, default=None,
                              help="readers trained from seeds SEED, SEED+1, ... and averaged "
                                   "(default 3)")
    train_motion.add_argument("--models-dir", default=None)
    train_motion.set_defaults(handler=cmd_train_motion)

    bench = commands.add_parser("bench", help="measure server-side inference speed")
    bench.add_argument("--model", default=None)
    bench.add_argument("--frames", type=int, default=300)
    bench.set_defaults(handler=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        if args.command != "locate":  # every other command computes with Keras
            _import_keras_quietly()
        return handler(args)
    except (ValueError, OSError) as exc:
        print(f"signlive {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"signlive {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
