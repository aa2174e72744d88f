"""The served model behind one micro-batching worker thread.

Why one worker: a forward pass over 16 frames costs little more than over one, and TensorFlow
already spreads one pass over all cores, so N client threads each calling the model would only
fight over the same cores. Instead every client's newest frame waits in `_pending` (a dict keyed
by client: latest wins, so a flooding or slow client can never grow a queue), and the worker
takes up to `max_batch` of them (waiting at most `batch_wait_ms` for company, and only while
an active client's frame is still missing), reads them through the model's spec (decoding
in a small thread pool: OpenCV releases the GIL), runs ONE compiled forward pass, and hands
each result to the reply callback that came with the frame.

A frame replaced by a newer one from the same client gets no answer at all (counted as
`dropped`): the page only ever waits for its newest frame, so an error for a stale one would be
noise. `swap()` loads nothing itself; it warms the new model up in the caller's thread and then
replaces one reference, so the worker changes model between two batches and no client notices.

A frame may come with the page's hand box ([x, y, w, h] in the frame's pixels, found by
MediaPipe Hands in the browser) and the landmarks found with it. The served model's spec
(webapp/model/spec.py) turns frame, box and landmarks into its inputs: a hand-crop model crops
around the box, a guide-square model ignores it (so swapping models never changes what a page
has to send), and only a fused model reads the landmarks.

Each client's answers also go through its own stream decoder (webapp/serve/decoder.py), which turns
them into committed letters and, when the hand drops, a finished word with suggestions
(webapp/serve/suggest.py): those ride on the `prediction` payload as `committed`, `retract`,
`reading`, `hold` and `word`. With a motion reader (webapp/serve/motionreader.py) each
client's landmark track is read too, and a J or Z it finds goes to the decoder. The decoder
runs here, once per connection, because the probabilities are here (the page only gets the
top 3) and the word list is here; it costs microseconds a frame
(docs/PERFORMANCE.md). A frame the page's locator looked at (`located`) and found no hand in
is not run through a hand-crop model at all: no hand, no letter. A guide-square model reads
the square as it always did (it never needed the locator, which can miss a hand that fills
the square).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from webapp.model.handshape import FEATURES, Hand
from webapp.model.letters import top_predictions
from webapp.model.preprocess import FrameError, encoded_size
from webapp.model.registry import LoadedModel
from webapp.model.spec import ModelSpec, Sample
from webapp.serve.decoder import DecoderSettings, Step, StreamDecoder
from webapp.serve.forward import ServedModel, bucket_for, prepare
from webapp.serve.motionreader import MotionReader
from webapp.serve.suggest import Lexicon

log = logging.getLogger("signlive.inference")
ACTIVE_WINDOW_S = 1.0  # a client that sent a frame this recently is expected to send again

Reply = Callable[[str, dict], None]
"""reply(event, payload): event is "prediction" or "error"; called from the worker thread."""


@dataclass(frozen=True)
class Decoded:
    """One answered frame as its client's decoder saw it (for bench/spelling_rate.py's
    recordings; never image bytes): time (server clock, s), box, landmarks, probabilities
    (None: no hand), what the decoder made of it, and the frame's size (for the motion
    reader's replay)."""

    client_id: str
    frame_id: int
    t: float
    box: tuple[float, float, float, float] | None
    landmarks: list | None
    probs: np.ndarray | None
    step: Step
    size: tuple[int, int] = (0, 0)  # the frame's width and height, where it has a hand


@dataclass
class _Pending:
    client_id: str
    frame_id: int
    image: bytes
    received: float
    reply: Reply
    box: tuple[float, float, float, float] | None = None  # the page's hand box, frame pixels
    hand: Hand | None = None  # the landmarks found with that box
    located: bool = False  # the page's locator looked at this frame: no box means no hand

    def nothing_to_read(self, spec: ModelSpec) -> bool:
        """A hand-crop model has nothing to read where the locator looked and found no hand."""
        return spec.reads_hand_box and self.located and self.box is None


class InferenceService:
    """Micro-batching inference for all live clients; thread-safe `submit`, `swap`, `stats`."""

    def __init__(
        self,
        served: ServedModel,
        *,
        max_batch: int = 32,
        batch_wait_ms: float = 2.0,
        confidence_threshold: float = 0.6,
        device: str = "CPU",
        decoder: DecoderSettings | None = None,
        lexicon: Lexicon | None = None,
        motion: MotionReader | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"MAX_BATCH must be at least 1, got {max_batch}")
        if batch_wait_ms < 0:
            raise ValueError(f"BATCH_WAIT_MS must be >= 0, got {batch_wait_ms}")
        self.max_batch = int(max_batch)
        self.batch_wait = float(batch_wait_ms) / 1000.0
        self.confidence_threshold = float(confidence_threshold)
        self.device = device
        self.decoder_settings = decoder or DecoderSettings(confidence=self.confidence_threshold)
        self.lexicon = lexicon
        self.motion = motion  # J and Z from the landmark track; None: static letters only
        self._decoders: dict[str, StreamDecoder] = {}  # per client; touched by the worker only
        self._decode_listeners: list[Callable[[Decoded], None]] = []
        self._served = served
        self._pending: dict[str, _Pending] = {}
        self._last_seen: dict[str, float] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._swap_listeners: list[Callable[[str], None]] = []
        self._batch_listeners: list[Callable[[int, list[float]], None]] = []  # metrics
        self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2),
                                        thread_name_prefix="signlive-decode")
        self._stats_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._batch_sizes: Counter[int] = Counter()
        self._latency_ms: deque[float] = deque(maxlen=4096)
        self._compute_ms: deque[float] = deque(maxlen=4096)
        self._worker = threading.Thread(target=self._run, name="signlive-inference", daemon=True)
        self._worker.start()

    # -- the served model -------------------------------------------------------------------
    @property
    def served(self) -> ServedModel:
        return self._served

    @property
    def model_name(self) -> str:
        return self._served.name

    def swap(self, model: LoadedModel | ServedModel) -> ServedModel:
        """Serve `model` from the next batch on; compiles and warms it up in THIS thread.

        If preparing it fails, the exception propagates and the current model keeps serving.
        """
        served = model if isinstance(model, ServedModel) else prepare(model, self.max_batch)
        with self._cond:
            previous, self._served = self._served, served
        self._count("swaps")
        log.info("model swapped: %s -> %s", previous.name, served.name)
        for listener in list(self._swap_listeners):
            try:
                listener(served.name)
            except Exception:  # a listener's failure must not undo a successful swap
                log.exception("model-swap listener failed")
        return served

    def on_swap(self, listener: Callable[[str], None]) -> None:
        """Call `listener(new_name)` after every successful swap (e.g. to tell the pages)."""
        self._swap_listeners.append(listener)

    def on_batch(self, listener: Callable[[int, list[float]], None]) -> None:
        """Call `listener(batch_size, latencies_ms)` after every forward pass (for /metrics)."""
        self._batch_listeners.append(listener)

    def on_decode(self, listener: Callable[[Decoded], None]) -> None:
        """Call `listener(Decoded)` for every answered frame (bench/spelling_rate.py)."""
        self._decode_listeners.append(listener)

    # -- frames -----------------------------------------------------------------------------
    def submit(self, client_id: str, frame_id: int, image: bytes, reply: Reply,
               box: tuple[float, float, float, float] | None = None,
               hand: Hand | None = None, located: bool = False) -> None:
        """Queue a client's frame, replacing its previous one if that is still waiting.

        `box` is the hand box the page found in this frame ([x, y, w, h], frame pixels), or
        None; it is checked against the decoded frame only if the served model crops by hand.
        `hand` (its landmarks) is read only by a model with a hand-shape input. `located`:
        the page's hand locator looked at this frame, so no box means no hand (the frame is
        answered without running the model); without it a frame with no box is read in the
        guide square, as from pages whose locator is off.
        """
        item = _Pending(client_id, frame_id, image, time.perf_counter(), reply, box,
                        hand if box is not None else None, bool(located))
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference service is closed")
            # A replacing frame also goes to the back of the line: a flooding client cannot
            # keep a place at the front.
            replaced = self._pending.pop(client_id, None)
            self._pending[client_id] = item
            self._last_seen[client_id] = item.received
            self._cond.notify()
        self._count("received")
        if box is not None:
            self._count("boxed")
            if hand is not None:
                self._count("landmarks")
        if replaced is not None:
            self._count("dropped")

    def forget(self, client_id: str) -> None:
        """Drop a departed client's waiting frame (nobody is left to answer)."""
        with self._cond:
            self._pending.pop(client_id, None)
            self._last_seen.pop(client_id, None)
            self._decoders.pop(client_id, None)
            if self.motion is not None:
                self.motion.forget(client_id)

    def _active_clients(self) -> int:
        """Clients that sent a frame within ACTIVE_WINDOW_S (caller holds the lock)."""
        horizon = time.perf_counter() - ACTIVE_WINDOW_S
        stale = [c for c, seen in self._last_seen.items() if seen < horizon]
        for client_id in stale:
            del self._last_seen[client_id]
        return len(self._last_seen)

    def record_rejected(self, code: str) -> None:
        """Count a frame refused before it reached the service (bad payload and such)."""
        with self._stats_lock:
            self._rejected[code] += 1

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after its current batch; waiting frames get no answer."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        self._worker.join(timeout)
        self._pool.shutdown(wait=False)

    # -- statistics -------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self._counts[key] += n

    def stats(self) -> dict:
        """A snapshot of the counters for /healthz, /metrics and the benchmarks."""
        with self._stats_lock:
            latency = sorted(self._latency_ms)
            compute = sorted(self._compute_ms)
            snapshot = {
                "frames_received": self._counts["received"],
                "frames_answered": self._counts["answered"],
                "frames_dropped": self._counts["dropped"],
                "frames_with_box": self._counts["boxed"],
                "frames_with_landmarks": self._counts["landmarks"],
                "frames_rejected": dict(self._rejected),
                "batches": self._counts["batches"],
                "batch_sizes": dict(sorted(self._batch_sizes.items())),
                "swaps": self._counts["swaps"],
            }
        with self._cond:
            snapshot["pending"] = len(self._pending)
        for key, values in (("latency_ms", latency), ("compute_ms", compute)):
            snapshot[key] = {
                f"p{q}": round(values[min(len(values) - 1, int(len(values) * q / 100))], 3)
                for q in (50, 95, 99)
            } if values else {}
        return snapshot

    # -- the worker ---------------------------------------------------------------------------
    def _take_batch(self) -> tuple[list[_Pending], ServedModel] | None:
        """Block until frames wait, linger up to batch_wait for more, take the oldest ones."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            oldest = min(p.received for p in self._pending.values())
            deadline = oldest + self.batch_wait
            # Wait for company only while some recently active client has no frame queued:
            # a lone client (or everyone already in) gets no added delay.
            expected = min(self.max_batch, self._active_clients())
            while len(self._pending) < expected and not self._closed:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = sorted(self._pending.values(), key=lambda p: p.received)[: self.max_batch]
            for item in batch:
                del self._pending[item.client_id]
            return batch, self._served

    def _run(self) -> None:
        while True:
            taken = self._take_batch()
            if taken is None:
                return
            batch, served = taken
            try:
                self._process(batch, served)
            except Exception:  # never let one bad batch stop serving everyone
                log.exception("inference failed for a batch of %d frames", len(batch))
                for item in batch:
                    self._reply_error(item, "internal", "the server could not process this frame")

    @staticmethod
    def _prepare_one(item: _Pending, served: ServedModel) -> Sample | FrameError:
        try:
            return served.spec.read(item.image, item.box, item.hand)
        except FrameError as exc:
            return exc

    def _process(self, batch: list[_Pending], served: ServedModel) -> None:
        start = time.perf_counter()
        for item in [item for item in batch if item.nothing_to_read(served.spec)]:
            self._answer(item, served, None)
        batch = [item for item in batch if not item.nothing_to_read(served.spec)]
        if not batch:
            return
        if len(batch) == 1:
            inputs = [self._prepare_one(batch[0], served)]
        else:
            inputs = list(self._pool.map(lambda it: self._prepare_one(it, served), batch))
        good: list[tuple[_Pending, Sample]] = []
        for item, value in zip(batch, inputs, strict=True):
            if isinstance(value, FrameError):
                self.record_rejected(value.code)
                self._reply_error(item, value.code, value.message)
            else:
                good.append((item, value))
        if not good:
            return
        n = len(good)
        size = served.spec.input_size
        x = np.zeros((bucket_for(n, self.max_batch), size, size, 1), np.float32)
        x[:n] = np.stack([sample.image for _, sample in good])
        shapes = np.zeros((len(x), FEATURES), np.float32)
        shapes[:n] = np.stack([sample.handshape for _, sample in good])
        probs = served.forward(x, shapes)[:n]
        compute_ms = (time.perf_counter() - start) * 1000.0 / len(batch)
        with self._stats_lock:
            self._counts["batches"] += 1
            self._batch_sizes[n] += 1
            self._compute_ms.extend([compute_ms] * n)
        latencies = [self._answer(item, served, p)
                     for (item, _), p in zip(good, probs, strict=True)]
        for listener in list(self._batch_listeners):
            try:
                listener(n, latencies)
            except Exception:  # metrics must never stop serving
                log.exception("batch listener failed")

    def _answer(self, item: _Pending, served: ServedModel, probs: np.ndarray | None) -> float:
        """Decode and send one frame's prediction (`probs` None: no hand); its latency, ms."""
        if probs is None:
            letter, confidence, top = None, 0.0, []
        else:
            top = top_predictions(probs)
            confidence = float(np.max(probs))
            letter = top[0][0] if confidence >= self.confidence_threshold else None
        # Without a locator (no box, not located) "no sign" is a reading below the threshold,
        # as it always was; with one, the hand is there when the page found it.
        hand = probs is not None and (item.box is not None or letter is not None)
        # The frame's size, only where a motion reader or a recorder reads the landmarks (the
        # frame was decoded, so its header is sound).
        wanted = self.motion is not None or bool(self._decode_listeners)
        size = encoded_size(item.image) if wanted and hand and item.hand else (0, 0)
        motion = (self.motion.observe(item.client_id, item.received, size,
                                      item.hand if hand else None)
                  if self.motion is not None else None)
        step = self._decode(item, probs if hand else None, motion, size)
        latency_ms = (time.perf_counter() - item.received) * 1000.0
        payload = {
            "id": item.frame_id,
            "letter": letter,
            "confidence": round(confidence, 4),
            "top": top,
            "latency_ms": round(latency_ms, 2),
            "model": served.name,
            "hand": hand,
            "committed": list(step.committed),
            "retract": step.retract,
            "reading": step.reading,
            "hold": step.hold,
        }
        if step.word:
            payload["word"] = {
                "spelled": "".join(item.letter for item in step.word),
                "suggestions": self.lexicon.suggest(step.word) if self.lexicon else [],
            }
        with self._stats_lock:
            self._counts["answered"] += 1
            self._counts["committed"] += len(step.committed)
            self._latency_ms.append(latency_ms)
        self._deliver(item, "prediction", payload)
        return latency_ms

    def _decode(self, item: _Pending, probs: np.ndarray | None, motion: str | None = None,
                size: tuple[int, int] = (0, 0)) -> Step:
        """Run the client's stream decoder on one answered frame (worker thread only)."""
        with self._cond:  # forget() may drop a departed client's decoder meanwhile
            decoder = self._decoders.get(item.client_id)
            if decoder is None:
                decoder = self._decoders[item.client_id] = StreamDecoder(self.decoder_settings)
        step = decoder.update(item.received, probs, item.box, motion)
        if self._decode_listeners:
            record = Decoded(item.client_id, item.frame_id, item.received, item.box,
                             [list(point) for point in item.hand.landmarks] if item.hand else None,
                             probs, step, size)
            for listener in list(self._decode_listeners):
                try:
                    listener(record)
                except Exception:  # a recorder must never stop serving
                    log.exception("decode listener failed")
        return step

    def _reply_error(self, item: _Pending, code: str, message: str) -> None:
        self._deliver(item, "error", {"id": item.frame_id, "code": code, "message": message})

    @staticmethod
    def _deliver(item: _Pending, event: str, payload: dict) -> None:
        try:
            item.reply(event, payload)
        except Exception:  # a vanished client must not take the worker down
            log.exception("could not deliver %s to client %s", event, item.client_id)
