"""`signlive serve / train / evaluate / predict / bench`: the command line.

Each subcommand parses its arguments here and hands the work to the module that owns it.
Bad input of any kind ends with one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from webapp import config
from webapp.preprocess import DEFAULT_CROP_FRACTION


def cmd_serve(args: argparse.Namespace) -> int:
    raise NotImplementedError("serve: owned by the live-server work")


def cmd_train(args: argparse.Namespace) -> int:
    raise NotImplementedError("train: owned by the training work")


def cmd_evaluate(args: argparse.Namespace) -> int:
    raise NotImplementedError("evaluate: owned by the evaluation work")


def cmd_predict(args: argparse.Namespace) -> int:
    raise NotImplementedError("predict: owned by the evaluation work")


def cmd_bench(args: argparse.Namespace) -> int:
    raise NotImplementedError("bench: owned by the live-server work")


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
    train.add_argument("--data", default=None, help="data folder (default: $SIGNLIVE_DATA or ../shared/data)")
    train.add_argument("--name", default=None, help="model name (default: ARCH-TIMESTAMP)")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--no-augment", dest="augment", action="store_false")
    train.add_argument("--val-fraction", type=float, default=0.1)
    train.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without val improvement (0: off)")
    train.add_argument("--limit", type=int, default=0, help="use only the first N training rows")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--models-dir", default=None)
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="accuracy, per-class metrics, confusion matrix")
    evaluate.add_argument("--model", required=True, help="path to a .keras model file")
    evaluate.add_argument("--data", default=None, help="CSV data folder or <LETTER>/ photo folder")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--crop-fraction", type=float, default=None,
                          help="guide-square fraction for photo folders (default: the model's)")
    evaluate.add_argument("--out", default=None, help="folder for confusion.png/.json")
    evaluate.add_argument("--limit", type=int, default=0, help="use only the first N test rows")
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser("predict", help="predict the letter of image files")
    predict.add_argument("--model", required=True, help="path to a .keras model file")
    predict.add_argument("--crop-fraction", type=float, default=DEFAULT_CROP_FRACTION)
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.set_defaults(handler=cmd_predict)

    bench = commands.add_parser("bench", help="measure server-side inference speed")
    bench.add_argument("--model", default=None)
    bench.add_argument("--frames", type=int, default=300)
    bench.set_defaults(handler=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (ValueError, OSError) as exc:
        print(f"signlive {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"signlive {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
