"""Socket.IO namespace `/live`: webcam frames in, predicted letters out.

The handler only checks the payload's shape (microseconds) and hands the bytes to the inference
service; decoding happens in the service, so frames replaced by a newer one (latest wins) are
never even decoded. Every refusal is an `error` event {"id", "code", "message"} and the
connection stays open. Answers go out from the inference worker thread straight through this
app's own Socket.IO server (`to=sid`), which is thread-safe in threading mode.

The namespace is a plain python-socketio Namespace registered on the server of ONE app, not a
handler on the module-level `socketio` object: it needs no Flask request context, and a second
app in the same process (tests) cannot steal its events.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import socketio as socketio_lib

from webapp.model.handshape import Hand
from webapp.serve.inference import InferenceService

log = logging.getLogger("signlive.live")

NAMESPACE = "/live"
FRAME_KEYS = frozenset({"id", "image", "box", "landmarks", "handedness", "located"})
MAX_ID = 2**53 - 1  # the largest integer a JavaScript number holds exactly


class BadFrame(ValueError):
    """A frame payload refused before inference; `frame_id` is echoed when it was usable."""

    def __init__(self, code: str, message: str, frame_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def _frame_id(payload: dict) -> int | None:
    value = payload.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
        return value
    return None


def _finite_number(value: Any) -> bool:
    """A JSON number that is a finite float (an int too large for a float is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float range
        return False


def frame_box(payload: dict) -> tuple[float, float, float, float] | None:
    """The hand box of a frame that passed validate_frame, as four floats (or None)."""
    box = payload.get("box")
    return None if box is None else tuple(float(v) for v in box)


def frame_hand(payload: dict) -> Hand | None:
    """The hand landmarks of a frame that passed validate_frame (or None)."""
    if payload.get("landmarks") is None:
        return None
    return Hand.parse(payload["landmarks"], payload.get("handedness"))


def validate_frame(payload: Any, max_bytes: int) -> tuple[int, bytes]:
    """(id, image bytes) of a well-formed `frame` payload, else BadFrame naming the problem.

    The image's content (format, size, decodability) is checked later by preprocess.py, and
    the optional hand box only for its shape here ([x, y, w, h], four finite numbers): whether
    it lies in the frame is known once the frame is decoded (inference.py, preprocess.py).
    """
    if not isinstance(payload, dict):
        raise BadFrame("bad_payload",
                       f"a frame must be an object {{id, image}}, got {type(payload).__name__}")
    frame_id = _frame_id(payload)
    extra = sorted(str(k)[:40] for k in payload if k not in FRAME_KEYS)
    if extra:
        raise BadFrame("bad_payload", f"unknown frame field(s): {', '.join(extra[:5])}", frame_id)
    if "id" not in payload:
        raise BadFrame("bad_id", "the frame has no 'id'")
    if frame_id is None:
        raise BadFrame("bad_id", f"'id' must be an integer from 0 to {MAX_ID}, "
                                 f"got {type(payload['id']).__name__}")
    if "image" not in payload:
        raise BadFrame("bad_payload", "the frame has no 'image'", frame_id)
    image = payload["image"]
    if not isinstance(image, (bytes, bytearray)):
        raise BadFrame("not_bytes", "'image' must be binary JPEG or PNG data, "
                                    f"got {type(image).__name__}", frame_id)
    if len(image) > max_bytes:
        raise BadFrame("too_large", f"the image is {len(image)} bytes; at most {max_bytes}",
                       frame_id)
    box = payload.get("box")
    if box is not None and not (
        isinstance(box, (list, tuple)) and len(box) == 4 and all(map(_finite_number, box))
    ):
        raise BadFrame("bad_box", "'box' must be null or [x, y, w, h] numbers", frame_id)
    landmarks = payload.get("landmarks")
    if landmarks is not None:
        if box is None:
            raise BadFrame("bad_landmarks", "'landmarks' come with the 'box' they were found "
                                            "with; this frame has no box", frame_id)
        if Hand.parse(landmarks) is None:
            raise BadFrame("bad_landmarks", "'landmarks' must be null or 21 [x, y, z] numbers",
                           frame_id)
    located = payload.get("located")
    if located is not None and not isinstance(located, bool):  # 1 == True: isinstance, not in
        raise BadFrame("bad_payload", "'located' must be true or false", frame_id)
    if payload.get("handedness") not in (None, "Left", "Right"):
        raise BadFrame("bad_landmarks", "'handedness' must be null, \"Left\" or \"Right\"",
                       frame_id)
    return frame_id, bytes(image)


class LiveNamespace(socketio_lib.Namespace):
    """`frame` -> `prediction` / `error`; tracks the connected clients for /healthz.

    A frame is `{"id", "image"}` plus, optionally, `"box": [x, y, w, h]` (or null): the hand
    the page found, in the encoded frame's pixels. Models trained on hand crops read the
    square around it; a box outside the decoded frame gets the `bad_box` error. With the box
    may come `"landmarks"` (MediaPipe's 21 [x, y, z], same pixels) and `"handedness"`
    ("Left"/"Right"): models with a hand-shape input read them (webapp/model/handshape.py).
    `"located": true` says the page's hand locator looked at the frame: without a box it then
    has no hand, and is answered as such without running the model.
    """

    def __init__(self, inference: InferenceService, max_frame_bytes: int) -> None:
        super().__init__(NAMESPACE)
        self.inference = inference
        self.max_frame_bytes = max_frame_bytes
        self._clients: set[str] = set()
        self._lock = threading.Lock()
        self.guard = None  # a per-client frame budget, set by webapp.security
        inference.on_swap(self.announce_model)

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        with self._lock:
            self._clients.add(sid)

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        with self._lock:
            self._clients.discard(sid)
        self.inference.forget(sid)
        if self.guard is not None:
            self.guard.forget(sid)

    def on_frame(self, sid: str, payload: Any = None, *extra: Any) -> None:
        try:
            if extra:
                raise BadFrame("bad_payload", "a frame is one object {id, image}")
            frame_id, image = validate_frame(payload, self.max_frame_bytes)
        except BadFrame as exc:
            self.inference.record_rejected(exc.code)
            self.emit("error", {"id": exc.frame_id, "code": exc.code, "message": exc.message},
                      to=sid)
            return
        self.inference.submit(sid, frame_id, image,
                              lambda event, data: self.emit(event, data, to=sid),
                              box=frame_box(payload), hand=frame_hand(payload),
                              located=payload.get("located") is True)

    def announce_model(self, name: str) -> None:
        """Tell every open page which model now answers (called after a hot swap)."""
        self.emit("model", {"name": name})

    def trigger_event(self, event: str, *args: Any) -> Any:
        if (event not in ("connect", "disconnect") and self.guard is not None and args
                and not self.guard.admit(self, *args[:2])):
            return None  # over this client's message budget (webapp.security.FrameRateGuard)
        # Unknown events are refused like bad frames, so a confused client learns why.
        if event not in ("connect", "disconnect", "frame"):
            sid = args[0] if args else None
            if sid is not None:
                self.inference.record_rejected("unknown_event")
                self.emit("error", {"id": None, "code": "unknown_event",
                                    "message": f"unknown event {str(event)[:40]!r}; send 'frame'"},
                          to=sid)
            return None
        return super().trigger_event(event, *args)
