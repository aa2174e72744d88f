"""Camera-like frames from Sign Language MNIST images, and the server-side speed measurement.

`camera_frame()` is the inverse of the guide-square crop: it scales a 28x28 sample up into the
guide square of a 640x480 frame (with a noisy background around it), exactly where the page
tells the user to sign, and JPEG-encodes it as the page would. Tests (right letter over
Socket.IO) and bench/live_latency.py (real frames at real sizes) both use it.

`measure_server()` times what the live server does per frame (decode + preprocess + one
compiled forward pass) against what the original demo did (`model.predict` on one frame at a
time); `signlive bench` prints it, bench/live_latency.py adds the Socket.IO round trips.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from webapp.model.handshape import NUM_LANDMARKS, Hand
from webapp.model.preprocess import DEFAULT_CROP_FRACTION, guide_square


def camera_frame(
    sample: np.ndarray,
    width: int = 640,
    height: int = 480,
    crop_fraction: float = DEFAULT_CROP_FRACTION,
    quality: int = 80,
    seed: int = 0,
) -> bytes:
    """A JPEG camera frame whose guide square shows `sample` (a gray uint8 image) scaled up."""
    # A lit wall: a smooth gradient with a little sensor noise (pure noise would make frames
    # several times larger and slower to decode than any real webcam frame).
    rng = np.random.default_rng(seed)
    ramp = np.linspace(70, 170, width, dtype=np.float32)[None, :] + np.linspace(
        0, 30, height, dtype=np.float32)[:, None]
    noise = rng.normal(0, 4, (height, width)).astype(np.float32)
    gray = np.clip(ramp + noise, 0, 255).astype(np.uint8)
    frame = np.repeat(gray[..., None], 3, axis=2)
    square = guide_square(height, width, crop_fraction)
    big = cv2.resize(np.asarray(sample, np.uint8), (square.side, square.side),
                     interpolation=cv2.INTER_LINEAR)
    frame[square.y : square.y + square.side, square.x : square.x + square.side] = big[..., None]
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the frame as JPEG")
    return encoded.tobytes()

def _percentiles(values_ms: list[float]) -> dict:
    ordered = np.sort(np.asarray(values_ms, np.float64))
    return {f"p{q}": float(np.percentile(ordered, q)) for q in (50, 95, 99)}

def measure_server(served, frames: list[bytes], batch_sizes=(1, 8, 32), repeat: int = 3) -> dict:
    """Server-side ms per frame (decode + preprocess + forward) at several batch sizes.

    `served` is an inference.ServedModel (compiled and warm). Batch >1 is what the inference
    worker does with several clients waiting: each frame preprocessed, one forward pass. A
    model with a hand-shape input also gets each frame's features computed from landmarks
    (one fixed synthetic hand: the cost does not depend on where the fingers are).
    """

    hand = Hand(tuple((100.0 + 7 * i, 200.0 - 5 * i, -0.5 * i) for i in range(NUM_LANDMARKS)))
    results = {}
    for batch in batch_sizes:
        per_frame = []
        for _ in range(repeat):
            for start in range(0, len(frames) - batch + 1, batch):
                t0 = time.perf_counter()
                samples = [served.spec.read(f, hand=hand) for f in frames[start : start + batch]]
                served.forward(np.stack([s.image for s in samples]),
                               np.stack([s.handshape for s in samples]))
                per_frame.append((time.perf_counter() - t0) * 1000.0 / batch)
        stats = _percentiles(per_frame)
        stats["fps"] = 1000.0 / float(np.mean(per_frame))
        results[batch] = stats
    return results

def measure_baseline(loaded, frames: list[bytes]) -> dict:
    """The original demo's way: preprocess one frame, `model.predict` it, next frame
    (`loaded`: a registry.LoadedModel)."""
    from webapp.model.nets import model_inputs  # deferred: it loads Keras

    def one(frame: bytes) -> None:
        image = loaded.spec.read(frame).image
        loaded.model.predict(model_inputs(loaded.model, image[None]), verbose=0)

    one(frames[0])  # warm-up
    per_frame = []
    for frame in frames:
        t0 = time.perf_counter()
        one(frame)
        per_frame.append((time.perf_counter() - t0) * 1000.0)
    stats = _percentiles(per_frame)
    stats["fps"] = 1000.0 / float(np.mean(per_frame))
    return stats

def format_table(rows: list[list], header: list[str]) -> str:
    """A plain fixed-width text table (what the bench commands print)."""
    cells = [header] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
