"""The hand-shape branch under leave-sources-out cross-validation, source by source.

    python -m bench.shape_cv [--photos DIR] [--split photos-v1] [--folds 6] [--epochs 40]
                             [--seed 0]

Why: `signlive fuse` picks its epoch and weight on the split's 3 validation sources, which
are few people; a change to the branch that reads them better need not read other people
better (docs/RESULTS.md, "The distances between the landmarks"). This trains the branch
exactly as fuse does (fusion.compiled_branch, handshape.augment, its settings) on all but
one group of the split's non-held-out sources, reads the hands of that group, and does so
for every group: the hand shape alone, the mean of the last 5 epochs, per source and in all
(photo-weighted and the mean of the sources). The held-out sources are never read. The
photos must be located first (`signlive locate`); only photos with a hand count.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from webapp import config as app_config
from webapp.files import DataError
from webapp.model.handshape import augment
from webapp.model.spec import ModelSpec
from webapp.train import splits
from webapp.train.fusion import FuseConfig, FuseError, compiled_branch
from webapp.train.photofolder import load_photo_folder

LAST = 5  # epochs averaged at the end of each fold


def folds_of(sources: list[str], folds: int, seed: int) -> list[list[str]]:
    """The sources shuffled by `seed` and dealt round-robin into `folds` groups."""
    order = np.random.default_rng(seed).permutation(len(sources))
    return [sorted(sources[i] for i in order[k::folds]) for k in range(folds)]


def fold_correct(config: FuseConfig, x_train: np.ndarray, y_train: np.ndarray,
                 x_test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Per test hand, the share of the last LAST epochs that read it right."""
    import keras

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    branch = compiled_branch(config)
    right = np.zeros(len(y_test))
    for epoch in range(config.epochs):
        branch.fit(augment(x_train, rng), y_train, batch_size=config.batch_size, epochs=1,
                   shuffle=True, verbose=0)
        if epoch >= config.epochs - LAST:
            logits = np.asarray(branch.predict(x_test, batch_size=4096, verbose=0))
            right += logits.argmax(axis=1) == y_test
    return right / min(LAST, config.epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", help="photo folder (default: $SIGNLIVE_PHOTOS)")
    parser.add_argument("--split", default=splits.DEFAULT_SPLIT)
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=FuseConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        config = FuseConfig(base="", epochs=args.epochs, seed=args.seed).validate()
        split = splits.load(args.split)
        folder = app_config.photos_dir(args.photos)
        photos = load_photo_folder(folder, spec=ModelSpec(8, "hand"),
                                   sources=lambda source: split.role(source) != "held_out")
    except (DataError, FuseError, splits.SplitError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hand = photos.handshape[:, 0] > 0
    shapes, labels = photos.handshape[hand], photos.y[hand]
    source_of = np.array(photos.sources)[hand]
    sources = sorted(set(source_of))
    if not 2 <= args.folds <= len(sources):
        print(f"error: --folds must be 2-{len(sources)}", file=sys.stderr)
        return 2
    right = np.zeros(len(labels))
    for group in folds_of(sources, args.folds, args.seed):
        test = np.isin(source_of, group)
        right[test] = fold_correct(config, shapes[~test], labels[~test], shapes[test],
                                   labels[test])
        print(f"fold {', '.join(group)}: {right[test].mean():.4f}", file=sys.stderr)
    print(f"{folder}: {len(labels)} hands in {len(photos)} photos of {len(sources)} sources "
          f"(sha256 {photos.sha256[:12]}), split {split.name}, {args.folds} folds, seed "
          f"{args.seed}, {time.perf_counter() - started:.0f} s")
    print("| source | role | hands | hand shape alone |\n|---|---|---|---|")
    for source in sources:
        mine = source_of == source
        print(f"| {source} | {split.role(source)} | {int(mine.sum())} | "
              f"{right[mine].mean():.4f} |")
    means = np.mean([right[source_of == s].mean() for s in sources])
    print(f"| **all** | | {len(labels)} | **{right.mean():.4f}** "
          f"(mean of sources {means:.4f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
