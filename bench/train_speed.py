"""Training throughput on this machine: what the input pipeline and the batch size buy.

Trains the given architecture on a slice of the real training data, the way training.py
does (same network, same augmentation wrapper, same optimizer and compile settings), and
times the faster of epochs 2 and 3 (the first pays for tracing) for each variant, after a
warm-up fit:
tf.data with prefetch vs the plain NumPy arrays given to fit(), batch sizes, augmentation on
and off. Prints images/s and the ratio to the first row.

    .venv/bin/python -m bench.train_speed --arch resnet --rows 6144
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def epoch_seconds(arch: str, x, y, batch: int, augment: bool, pipeline: bool) -> float:
    """Seconds of the faster of epochs 2 and 3 of a fit over (x, y) (epoch 1 traces)."""
    import keras

    from webapp.model import nets
    from webapp.train import training, trainingsets

    keras.utils.set_random_seed(0)
    core = nets.build_model(arch, int(x.shape[1]))
    steps = -(-len(y) // batch)
    trainer = training.make_trainer(core, augment, 0, 1e-3, steps * 3)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    if pipeline:
        trainer.fit(trainingsets.to_tf_dataset(x, y, batch, shuffle=True), shuffle=False, epochs=3,
                    verbose=0, callbacks=[Timer()])
    else:
        trainer.fit(x, y, batch_size=batch, shuffle=True, epochs=3, verbose=0,
                    callbacks=[Timer()])
    return min(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet", choices=("cnn", "resnet", "resnet50"))
    parser.add_argument("--rows", type=int, default=6144, help="training rows per epoch")
    parser.add_argument("--data", default=None, help="data folder (default: ../shared/data)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="passes over all variants (interleaved); the fastest counts")
    args = parser.parse_args(argv)

    from webapp import config, device
    from webapp.serve import benchmark
    from webapp.train import signmnist

    where = device.describe()  # before the first model: it sets up the GPU, if any
    train = signmnist.load_split(config.data_dir(args.data), "train", limit=args.rows)
    variants = [  # (label, batch, augment, tf.data)
        ("tf.data + prefetch, batch 128, augment", 128, True, True),
        ("NumPy arrays to fit, batch 128, augment", 128, True, False),
        ("tf.data + prefetch, batch 32, augment", 32, True, True),
        ("tf.data + prefetch, batch 64, augment", 64, True, True),
        ("tf.data + prefetch, batch 256, augment", 256, True, True),
        ("tf.data + prefetch, batch 128, no augment", 128, False, True),
    ]
    # Warm-up: the first fit in a process also pays for one-off set-up (thread pools, oneDNN
    # kernels); without this the first variant measured ~1.6x slower than the same one later.
    epoch_seconds(args.arch, train.x[:1024], train.y[:1024], 128, True, True)
    best = {label: float("inf") for label, *_ in variants}
    for round_ in range(1, args.rounds + 1):  # interleaved: a slow spell hits all variants
        for label, batch, augment, pipeline in variants:
            seconds = epoch_seconds(args.arch, train.x, train.y, batch, augment, pipeline)
            best[label] = min(best[label], seconds)
            print(f"  round {round_}, {label}: {seconds:.1f} s", file=sys.stderr, flush=True)
    rows = [[label, seconds, len(train.y) / seconds] for label, seconds in best.items()]
    base = rows[0][2]
    print(f"{args.arch}, {len(train.y)} rows an epoch, fastest of epochs 2-3 over "
          f"{args.rounds} rounds, {where}")
    print(benchmark.format_table([[*r, r[2] / base] for r in rows],
                                 ["variant", "s/epoch", "images/s", "x first row"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
