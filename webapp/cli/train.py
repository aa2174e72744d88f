"""`signlive train` and `signlive fuse`: a run's flags into its config, its progress onto
the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable


def _train_progress(stream) -> Callable[[dict], None]:
    """A console progress bar: one \\r-rewritten line per batch, one line per finished epoch."""
    def fmt(value: float | None, spec: str = ".4f") -> str:
        return "-" if value is None else format(value, spec)

    def eta(seconds: float) -> str:
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}:{secs:02d}"

    def show(event: dict) -> None:
        kind = event["type"]
        if kind == "start":
            print(f"training {event['name']} ({event['arch']}): {event['epochs']} epochs of "
                  f"{event['steps_per_epoch']} batches", file=stream, flush=True)
        elif kind == "batch":
            width = 24
            filled = int(width * event["batch"] / event["steps"])
            print(f"\repoch {event['epoch']} [{'=' * filled}{'.' * (width - filled)}] "
                  f"{event['batch']}/{event['steps']}  loss {fmt(event['loss'])}  "
                  f"acc {fmt(event['accuracy'])}  ETA {eta(event['eta_s'])} ",
                  end="", file=stream, flush=True)
        elif kind == "epoch":
            print(f"\r\033[Kepoch {event['epoch']}/{event['epochs']}  loss {fmt(event['loss'])}  "
                  f"acc {fmt(event['accuracy'])}  val_loss {fmt(event['val_loss'])}  "
                  f"val_acc {fmt(event['val_accuracy'])}  {event['seconds']:.1f} s  "
                  f"ETA {eta(event['eta_s'])}", file=stream, flush=True)

    return show


def cmd_train(args: argparse.Namespace) -> int:
    """Train a network, keep its best validation epoch, test it, register it in models/."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from webapp.train.training import TrainConfig, train  # deferred: it loads Keras

    train_config = TrainConfig(
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, augment=args.augment, name=args.name,
        data_dir=args.data, models_dir=args.models_dir, val_fraction=args.val_fraction,
        early_stopping=args.early_stopping, limit=args.limit, seed=args.seed,
        crop_fraction=args.crop_fraction, negatives=args.negatives, input_size=args.input_size,
        train_on=args.train_on, photos_dir=args.photos, crop=args.crop, split=args.split,
    ).validate()
    result = train(train_config, progress=_train_progress(sys.stderr))
    meta = result.metadata
    print(f"saved {result.model_path}")
    print(f"test accuracy {meta['test_accuracy']:.4f} on {meta['test_n']:,} images "
          f"(best epoch {meta['best_epoch']} of {meta['epochs']}, "
          f"{meta['training_seconds']:.0f} s on {meta['device']})")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    """Add a hand-shape branch to a hand-crop model; the split's validation sources choose."""
    from webapp.train.fusion import FuseConfig, fuse  # deferred: it loads Keras

    def progress(event: dict) -> None:
        if event["type"] == "epoch":
            print(f"epoch {event['epoch']}/{event['epochs']}  loss {event['loss']:.4f}  "
                  f"val {event['val_accuracy']:.4f} (weight {event['weight']}, hands "
                  f"{event['val_hand_accuracy']:.4f})", file=sys.stderr)

    result = fuse(FuseConfig(
        base=args.base, name=args.name or "", photos_dir=args.photos, split=args.split,
        epochs=args.epochs, seed=args.seed, models_dir=args.models_dir,
    ), progress=progress)
    fusion = result.metadata["fusion"]
    print(f"saved {result.model_path}")
    print(f"validation accuracy {fusion['validation_accuracy']:.4f} (image only "
          f"{fusion['validation_image_only']:.4f}; best epoch {fusion['best_epoch']}, weight "
          f"{fusion['weight']}, {fusion['seconds']:.0f} s)")
    return 0
