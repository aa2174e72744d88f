"""`signlive evaluate` and `signlive predict`: a model read through its own spec (or the flags'
overrides), its report, and the held-out score it can keep (--record).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from webapp import config
from webapp.model.letters import top_predictions
from webapp.model.preprocess import FrameError
from webapp.model.registry import Registry, load_model_file
from webapp.model.spec import Sample, SpecError
from webapp.train.locate import BoxCache


def _load_for_cli(model_path: str, crop: str | None = None,
                  crop_fraction: float | None = None):
    """(LoadedModel, ModelSpec): the model's own spec, with --crop / --crop-fraction where given."""

    loaded = load_model_file(model_path)
    try:
        return loaded, loaded.spec.overridden(crop, crop_fraction)
    except SpecError as exc:
        raise ValueError(f"--{exc.field.replace('_', '-')} {exc.problem}") from None


def _evaluation_report(result: dict) -> str:
    """The human-readable `signlive evaluate` output."""
    from webapp.train.evaluation import top_confusions  # deferred: it loads Keras

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

    # deferred: evaluation loads Keras (the rest come along, one import line)
    from webapp.train import evaluation, photofolder, splits, trainingsets

    if args.limit < 0:
        raise ValueError(f"--limit must be 0 (all) or positive, got {args.limit}")
    if not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold must be in 0-1, got {args.threshold}")
    data_path = config.data_dir(args.data)
    if not data_path.exists():
        raise ValueError(f"{data_path}: data folder not found")
    loaded, spec = _load_for_cli(args.model, args.crop, args.crop_fraction)
    split = None
    if photofolder.is_photo_folder(data_path) and args.split != "none":
        split = splits.load(args.split)
        present = {photofolder.photo_source(item)
                   for item, _ in photofolder.list_photos(data_path)[0]}
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
    dataset = trainingsets.load_dataset(
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
    from webapp.train.evaluation import held_out_entry  # deferred: it loads Keras

    path = Path(args.model)
    Registry(path.parent).record(path.stem, held_out=held_out_entry(result, split,
                                                                      photos_sha256))


def cmd_predict(args: argparse.Namespace) -> int:
    """One line per image; unusable images get an error line on stderr and exit status 1."""
    import hashlib
    import json

    import numpy as np

    from webapp.train.evaluation import predict_probs  # deferred: it loads Keras

    loaded, spec = _load_for_cli(args.model, crop_fraction=args.crop_fraction)
    # A hand-crop model gets the box and landmarks `signlive locate` cached for the image, as a
    # live frame gets the page's; an image never located (or without a hand) takes the guide
    # square (and no hand shape).
    boxes = None
    if spec.reads_hand_box:

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
