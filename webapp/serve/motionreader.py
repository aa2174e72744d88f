"""J and Z live: each connection's recent landmark track, read by the motion reader.

The page already sends the hand's 21 landmarks with every frame. This keeps the last window
of them per connection, turned back into the frame's [0, 1] coordinates the reader was
trained in (the page sends pixels), and asks the reader once a frame whether a J or a Z was
just drawn; the connection's stream decoder commits what it finds (webapp/serve/decoder.py).
It runs in the inference worker, beside the decoder, because the landmarks and the frame's
size are there; one window a frame costs a fraction of a millisecond (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from webapp.model.handshape import NUM_LANDMARKS, Hand
from webapp.model.registry import LoadedMotion

_NO_HAND = np.zeros((NUM_LANDMARKS, 3), np.float32)


def compile_reader(model, shape: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    """windows (N, steps, features) -> probabilities, compiled once on TensorFlow (a
    batch-agnostic signature, as serve/forward.py does for the letter model)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        graph = tf.function(lambda x: model(x, training=False),
                            input_signature=[tf.TensorSpec([None, *shape], tf.float32)])
        return lambda x: graph(np.asarray(x, np.float32)).numpy()
    return lambda x: keras.ops.convert_to_numpy(model(np.asarray(x, np.float32),
                                                      training=False))


class MotionReader:
    """One motion reader for all connections; `observe` and `forget` from the worker only."""

    def __init__(self, loaded: LoadedMotion) -> None:
        self.name = loaded.name
        self.spec = loaded.spec
        self._forward = compile_reader(loaded.model, self.spec.shape)
        self._forward(np.zeros((1, *self.spec.shape), np.float32))  # warm: traced once now
        self._tracks: dict[str, deque[tuple[float, np.ndarray]]] = {}

    def observe(self, client_id: str, t: float, size: tuple[int, int],
                hand: Hand | None) -> str | None:
        """Add one frame of a connection (`size`: the frame's width and height; `hand`: its
        landmarks in the frame's pixels, None without a hand) and read the window ending at
        it: J, Z, or None."""
        track = self._tracks.setdefault(client_id, deque())
        points = _NO_HAND
        if hand is not None:
            width, height = size
            points = np.asarray(hand.landmarks, np.float32) / np.array(
                [width, height, width], np.float32)
        track.append((t, points))
        while track and t - track[0][0] > self.spec.window_s:
            track.popleft()
        if hand is None:
            return None  # a stroke is read while the hand is there
        window = self.spec.read(np.stack([p for _, p in track]),
                                np.array([when for when, _ in track]))
        if window is None:
            return None
        return self.spec.answer(self._forward(window[None])[0], window)[0]

    def forget(self, client_id: str) -> None:
        self._tracks.pop(client_id, None)
