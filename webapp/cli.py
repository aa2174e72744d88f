"""`signlive serve / train / evaluate / predict / bench`: the command line.

Each subcommand parses its arguments here and hands the work to the module that owns it.
Bad input of any kind ends with one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from webapp import config
from webapp.preprocess import DEFAULT_CROP_FRACTION, DEFAULT_INPUT_SIZE
from webapp.splits import DEFAULT_SPLIT


def cmd_serve(args: argparse.Namespace) -> int:
    """The development server (Werkzeug, threaded); production is gunicorn (docs/DEPLOY.md)."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from webapp import create_app, socketio
    from webapp.serving import RequestHandler

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a TCP port")
    app = create_app({"ACTIVE_MODEL": args.model} if args.model else None)
    state = app.extensions["signlive"]
    logging.getLogger("signlive").info(
        "serving http://%s:%d/  model=%s  device=%s", args.host, args.port, state.model_name,
        state.device)
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True,
                     request_handler=RequestHandler)
    finally:
        state.close()
    return 0


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
    from webapp.training import TrainConfig, train

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
    from webapp.fusion import FuseConfig, fuse

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


def _load_for_cli(model_path: str, crop: str | None = None,
                  crop_fraction: float | None = None):
    """(LoadedModel, ModelSpec): the model's own spec, with --crop / --crop-fraction where given."""
    from webapp.registry import load_model_file
    from webapp.spec import SpecError

    loaded = load_model_file(model_path)
    try:
        return loaded, loaded.spec.overridden(crop, crop_fraction)
    except SpecError as exc:
        raise ValueError(f"--{exc.field.replace('_', '-')} {exc.problem}") from None


def _evaluation_report(result: dict) -> str:
    """The human-readable `signlive evaluate` output."""
    from webapp.evaluation import top_confusions

    lines = [
        f"model     {result['model']} ({result['model_name']}, {result['input_size']}x"
        f"{result['input_size']})",
        f"data      {result['description']}",
        f"sha256    {result['data_sha256']}",
        f"accuracy  {result['accuracy']:.4f}  ({result['correct']:,} of {result['n']:,} correct, "
        f"{result['seconds']:.1f} s)",
        "",
        "letter  precision  recall      f1  support",
    ]
    for letter, row in result["per_class"].items():
        lines.append(f"{letter:>6}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
                     f"{row['f1']:6.4f}  {row['support']:7d}")
    confusions = top_confusions(result, 10)
    lines += ["", "top confusions (true -> predicted: count)"]
    lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in confusions] or ["  none"]
    if "per_source" in result:
        lines += ["", "source                      accuracy      n"]
        lines += [f"  {name:<26}{row['accuracy']:8.4f}  {row['n']:5d}"
                  for name, row in result["per_source"].items()]
    if "split" in result:
        split = result["split"]
        lines += ["", f"split {split['name']}: held-out sources only"]
        for label, row in (("held-out total", split["held_out"]),
                           ("raw webcam", split["raw_webcam"])):
            if row["n"]:
                lines.append(f"  {label:<26}{row['accuracy']:8.4f}  {row['n']:5d}  "
                             f"({', '.join(row['sources'])})")
    if "by_hand" in result:
        lines += ["", "where the hand locator found the hand"]
        for label, key in (("hand found", "found"), ("no hand found", "not_found")):
            row = result["by_hand"][key]
            lines.append(f"  {label:<26}{row['accuracy']:8.4f}  {row['n']:5d}")
    free = result["hand_free"]
    lines += ["", f"no hand   {free['false_letters']:,} of {free['n']:,} hand-free pictures read "
              f"as a letter at >= {free['threshold']:.2f} confidence (median top "
              f"{free['median_confidence']:.2f})"]
    if result["skipped"]:
        lines += ["", f"skipped {len(result['skipped'])} unusable files:"]
        lines += [f"  {item}" for item in result["skipped"][:10]]
        if len(result["skipped"]) > 10:
            lines.append(f"  ... and {len(result['skipped']) - 10} more (see confusion.json)")
    lines += ["", f"wrote {result['confusion_png']} and {result['confusion_json']}"]
    return "\n".join(lines)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a model on a CSV data folder's test split or on a <LETTER>/<image> photo folder."""
    import json
    import time

    from webapp import data, evaluation, splits

    if args.limit < 0:
        raise ValueError(f"--limit must be 0 (all) or positive, got {args.limit}")
    if not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold must be in 0-1, got {args.threshold}")
    data_path = config.data_dir(args.data)
    if not data_path.exists():
        raise ValueError(f"{data_path}: data folder not found")
    loaded, spec = _load_for_cli(args.model, args.crop, args.crop_fraction)
    split = None
    if data.is_photo_folder(data_path) and args.split != "none":
        split = splits.load(args.split)
        present = {data.photo_source(item) for item, _ in data.list_photos(data_path)[0]}
        if not present & (split.held_out | split.validation):
            split = None  # a folder the split does not describe (as in training): score all
        elif not present & split.held_out:
            raise ValueError(f"{data_path}: none of the held-out sources of split {split.name} "
                             "is in it (--split none scores every photo)")
    if args.record and (split is None or args.limit or spec != loaded.spec
                        or not Path(args.model).with_suffix(".json").is_file()):
        raise ValueError("--record keeps a full run (no --limit, --crop or --crop-fraction) on "
                         "a photo folder with the split's held-out sources, in the .json "
                         "beside the model")
    started = time.perf_counter()
    dataset = data.load_dataset(
        data_path, "test", spec, limit=args.limit,
        sources=None if split is None else (lambda source: split.role(source) == "held_out"))
    loaded_at = time.perf_counter()
    result = evaluation.evaluate(loaded.model, dataset)
    if split is not None:
        result["split"] = evaluation.split_summary(result, split)
    result["hand_free"] = evaluation.hand_free_check(loaded.model, args.threshold)
    out = Path(args.out) if args.out else Path.cwd() / f"eval-{loaded.name}"
    out.mkdir(parents=True, exist_ok=True)
    result.update(
        model=str(args.model),
        model_name=loaded.name,
        input_size=spec.input_size,
        crop_fraction=spec.crop_fraction,
        crop=spec.crop,
        data=str(data_path),
        description=dataset.description,
        data_sha256=dataset.sha256,
        correct=int(sum(result["confusion"][i][i] for i in range(len(result["letters"])))),
        skipped=dataset.skipped,
        load_seconds=round(loaded_at - started, 3),
        seconds=round(time.perf_counter() - loaded_at, 3),
        confusion_png=str(out / "confusion.png"),
        confusion_json=str(out / "confusion.json"),
    )
    evaluation.save_confusion_png(result, out / "confusion.png")
    (out / "confusion.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.record:
        _record_held_out(args, split, result, dataset.sha256)
    print(json.dumps(result) if args.json else _evaluation_report(result))
    return 0


def _record_held_out(args: argparse.Namespace, split, result: dict, photos_sha256: str) -> None:
    """--record: the held-out score into the model's own .json (checked before the run: a
    full run of the model's own spec, so the figure means what the models table says)."""
    from webapp.evaluation import held_out_entry
    from webapp.registry import Registry

    path = Path(args.model)
    Registry(path.parent).record(path.stem, held_out=held_out_entry(result, split,
                                                                      photos_sha256))


def cmd_predict(args: argparse.Namespace) -> int:
    """One line per image; unusable images get an error line on stderr and exit status 1."""
    import hashlib
    import json

    import numpy as np

    from webapp.evaluation import predict_probs
    from webapp.letters import top_predictions
    from webapp.preprocess import FrameError
    from webapp.spec import Sample

    loaded, spec = _load_for_cli(args.model, crop_fraction=args.crop_fraction)
    # A hand-crop model gets the box and landmarks `signlive locate` cached for the image, as a
    # live frame gets the page's; an image never located (or without a hand) takes the guide
    # square (and no hand shape).
    boxes = None
    if spec.reads_hand_box:
        from webapp.locate import BoxCache

        boxes = BoxCache.load()
    samples: list[Sample] = []
    good: list[str] = []
    failed = 0
    for image in args.images:
        try:
            raw = Path(image).read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            located = boxes is not None
            samples.append(spec.read(raw, boxes.get(digest) if located else None,
                                     boxes.hand(digest) if located else None))
            good.append(image)
        except FrameError as exc:
            failed += 1
            print(f"signlive predict: error: {image}: {exc.message}", file=sys.stderr)
        except OSError as exc:
            failed += 1
            print(f"signlive predict: error: {image}: cannot read ({exc.strerror or exc})",
                  file=sys.stderr)
    probs = (predict_probs(loaded.model, np.stack([s.image for s in samples]),
                           handshape=np.stack([s.handshape for s in samples]))
             if samples else np.zeros((0, len(spec.letters))))
    for image, p in zip(good, probs, strict=True):
        top = top_predictions(p)
        (letter, _), confidence = top[0], float(p.max())
        if args.json:
            print(json.dumps({"path": image, "letter": letter, "confidence": round(confidence, 4),
                              "top": top}))
        else:
            print(f"{image}\t{letter}\t{confidence:.4f}")
    return 1 if failed else 0


def cmd_locate(args: argparse.Namespace) -> int:
    """Find the hand in every photo of a folder (once; later runs reuse the cache)."""
    import time

    from webapp import locate
    from webapp.data import DataError, list_photos

    folder = Path(args.folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: photo folder not found")
    found, _skipped = list_photos(folder)
    if not found:
        raise DataError(f"{folder}: no <LETTER>/<image> photos found")
    cache = locate.BoxCache.load(args.cache)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        left = (total - done) / rate if rate else 0
        print(f"\rlocated {done}/{total} ({rate:.1f}/s, {left / 60:.0f} min left)   ",
              end="", file=sys.stderr, flush=True)

    try:
        report = locate.locate_photos(folder, [p for p, _ in found], cache, args.jobs, progress)
    except locate.LocateError as exc:
        print(f"signlive locate: error: {exc}", file=sys.stderr)
        return 1
    if report.located:
        print(file=sys.stderr)
    for problem in report.errors[:20]:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{report.photos} photos: {report.cached} already located, {report.located} located "
          f"now ({report.with_hand} with a hand), {len(report.errors)} unreadable; "
          f"cache {cache.path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Server-side ms per frame (decode + preprocess + forward) vs one model.predict per frame.

    The Socket.IO round trips under 1/8/32 clients are measured by `make bench`
    (bench/live_latency.py); this is the in-process part, on the model that would be served.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from webapp import benchmark
    from webapp.inference import prepare
    from webapp.registry import Registry, load_model_file

    if args.frames < 32:
        raise ValueError(f"--frames must be at least 32, got {args.frames}")
    if args.model and args.model.endswith(".keras"):
        loaded = load_model_file(args.model)
    else:
        loaded = Registry(config.models_dir()).load(args.model or config.DEFAULT_MODEL_NAME)
    served = prepare(loaded)
    samples = benchmark.letter_samples(config.data_dir(), per_letter=2)
    frames = [benchmark.camera_frame(img, seed=i) for i, (img, _) in enumerate(samples)]
    frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
    server = benchmark.measure_server(served, frames)
    base = benchmark.measure_baseline(loaded, frames[:100])
    rows = [[f"server, batch {b}", s["p50"], s["p95"], s["p99"], s["fps"], s["fps"] / base["fps"]]
            for b, s in server.items()]
    rows.append(["model.predict x1", base["p50"], base["p95"], base["p99"], base["fps"], 1.0])
    print(f"model {loaded.name} ({loaded.path}), {len(frames)} frames of 640x480 JPEG")
    print(benchmark.format_table(rows, ["path", "p50 ms", "p95 ms", "p99 ms", "frames/s",
                                        "x baseline"]))
    return 0


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
