"""The articles' comparison: cnn vs resnet50 vs resnet, side by side, measured here.

Each model is trained first with `signlive train` (commands in docs/RESULTS.md); this reads
what training recorded in its metadata (test accuracy on the full test split, parameters,
seconds per epoch, device, per-epoch history), adds the file size and the inference cost per
frame measured now on this machine (the server's path: decode + preprocess + one compiled
forward pass at batch 1, and the original demo's `model.predict` on one frame), prints a table
and draws the training curves of all models into one PNG.

    .venv/bin/python -m bench.compare_archs --out docs/img/arch-curves.png \
        /tmp/compare/cnn.keras /tmp/compare/resnet50.keras models/default.keras
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(path: Path, frames: list[bytes]) -> dict:
    """One row of the table for the model file at `path`."""
    from webapp.model.registry import load_model_file
    from webapp.serve import benchmark
    from webapp.serve.forward import prepare

    loaded = load_model_file(path)
    meta = loaded.metadata
    served = prepare(loaded)
    server = benchmark.measure_server(served, frames, batch_sizes=(1,), repeat=2)[1]
    base = benchmark.measure_baseline(loaded, frames[:60])
    seconds = [h["seconds"] for h in meta.get("history", [])]
    return {
        "model": loaded.name,
        "arch": meta.get("arch", "?"),
        "params": int(loaded.model.count_params()),
        "size_mb": path.stat().st_size / 1e6,
        "epochs": len(seconds),
        # The median epoch: the first one also pays for tracing/compiling.
        "s_per_epoch": statistics.median(seconds) if seconds else float("nan"),
        "device": meta.get("device", "?"),
        "test_accuracy": float(meta.get("test_accuracy", float("nan"))),
        "server_ms": server["p50"],
        "predict_ms": base["p50"],
        "history": meta.get("history", []),
    }


def plot_curves(rows: list[dict], out: Path) -> None:
    """Accuracy and loss per epoch, train (dashed) and validation (solid), one colour a model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    for row, colour in zip(rows, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"),
                           strict=False):
        epochs = [h["epoch"] for h in row["history"]]
        label = f"{row['model']} ({row['arch']})"
        for ax, key in zip(axes, ("accuracy", "loss"), strict=True):
            ax.plot(epochs, [h[key] for h in row["history"]], "--", color=colour,
                    label=f"{label} train")
            ax.plot(epochs, [h[f"val_{key}"] for h in row["history"]], "-", color=colour,
                    label=f"{label} val")
    lowest = min((h[k] for r in rows for h in r["history"] for k in ("accuracy", "val_accuracy")
                  if h[k] is not None), default=0.0)
    axes[0].set(title="accuracy", xlabel="epoch", ylim=(max(0.0, lowest - 0.02), 1.005))
    axes[1].set(title="loss (log scale)", xlabel="epoch", yscale="log")
    axes[0].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help=".keras files (with their .json)")
    parser.add_argument("--data", default=None, help="data folder (default: ../shared/data)")
    parser.add_argument("--frames", type=int, default=120, help="frames timed per model")
    parser.add_argument("--out", type=Path, default=Path("docs/img/arch-curves.png"))
    args = parser.parse_args(argv)

    from webapp import config
    from webapp.serve import benchmark
    from webapp.train import signmnist

    samples = signmnist.letter_samples(config.data_dir(args.data), per_letter=5)
    frames = [benchmark.camera_frame(img, seed=i) for i, (img, _) in enumerate(samples)]
    frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
    rows = [measure(path, frames) for path in args.models]
    print(benchmark.format_table(
        [[r["model"], r["arch"], f"{r['params']:,}", r["size_mb"], f"{r['test_accuracy']:.4f}",
          r["epochs"], r["s_per_epoch"], r["server_ms"], r["predict_ms"], r["device"]]
         for r in rows],
        ["model", "arch", "params", "file MB", "test acc", "epochs", "s/epoch",
         "server ms/frame", "predict ms/frame", "trained on"]))
    plot_curves(rows, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
