// The /live Socket.IO connection and the frame loop: one frame in flight at a time, the next
// sent when the answer to the previous arrives (or after a timeout, so a lost answer cannot
// stall the loop), never faster than fps_cap. With `overlap` the next frame is grabbed (the
// hand found in it, the JPEG made) while the server reads the last one, so a frame costs the
// longer of the two rather than their sum (docs/PERFORMANCE.md, "The page"). Socket.IO
// reconnects by itself; the loop resumes on every (re)connect.

const io = window.io; // static/vendor/socket.io-*/socket.io.min.js, loaded before the modules

// A frame grabbed ahead (overlap) that waited longer than this for the last answer is not sent:
// a fresh one is grabbed instead (the answer was late; what the camera saw then is old news).
const STALE_FRAME_MS = 300;

/** Rolling round-trip and frames-per-second figures in fixed-size buffers (no growth). */
export class Stats {
  constructor(size = 30) {
    this.size = size;
    this.rtts = new Float64Array(size);
    this.times = new Float64Array(size);
    this.count = 0;
  }

  add(rttMs, nowMs) {
    const i = this.count % this.size;
    this.rtts[i] = rttMs;
    this.times[i] = nowMs;
    this.count += 1;
  }

  /** Median round trip over the last answers, in ms (null before the first). */
  rtt() {
    const n = Math.min(this.count, this.size);
    if (n === 0) return null;
    const sorted = Array.from(this.rtts.subarray(0, n)).sort((a, b) => a - b);
    return sorted[Math.floor(n / 2)];
  }

  /** Answers per second over the last ~2 s. */
  fps(nowMs) {
    const n = Math.min(this.count, this.size);
    let recent = 0;
    let oldest = nowMs;
    for (let i = 0; i < n; i += 1) {
      if (nowMs - this.times[i] <= 2000) {
        recent += 1;
        oldest = Math.min(oldest, this.times[i]);
      }
    }
    if (recent < 2) return 0;
    return (recent - 1) / Math.max(0.001, (nowMs - oldest) / 1000);
  }

  reset() {
    this.count = 0;
  }
}

export class LiveClient {
  /**
   * grab: async () => {image: ArrayBuffer, box: [x, y, w, h] | null, landmarks, handedness}
   *   | null (a JPEG frame and the hand found in it, in its pixels; null when the camera has
   *   none yet)
   * handlers: onPrediction(p), onError(e), onModel(name), onStatus(state, detail)
   */
  constructor({ grab, fpsCap = 15, timeoutMs = 2000, overlap = false, handlers = {} }) {
    this.grab = grab;
    this.overlap = overlap;
    this.ahead = null; // overlap: Promise of the next frame, grabbed while one is in flight
    this.minIntervalMs = 1000 / Math.max(0.1, fpsCap);
    this.timeoutMs = timeoutMs;
    this.handlers = handlers;
    this.stats = new Stats();
    this.nextId = 1;
    this.inFlight = null; // {id, sentAt}
    this.lastSentAt = -Infinity;
    this.timer = null;
    this.timeoutTimer = null;
    this.paused = false;
    this.framesSent = 0;
    this.framesWithBox = 0; // frames sent with a hand box (for the page's tests and curious people)
    this.socket = null;
  }

  connect() {
    if (!io) {
      this.emitStatus("error", "the Socket.IO client failed to load");
      return;
    }
    this.socket = io("/live", {
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 8000,
    });
    this.emitStatus("connecting");
    this.socket.on("connect", () => {
      this.emitStatus("connected");
      this.inFlight = null;
      this.schedule(0);
    });
    this.socket.on("disconnect", (reason) => {
      this.inFlight = null;
      this.ahead = null;
      this.clearTimers();
      this.emitStatus("disconnected", reason);
      // A server-side disconnect is not retried by socket.io itself: ask again.
      if (reason === "io server disconnect") setTimeout(() => this.socket.connect(), 1000);
    });
    this.socket.on("connect_error", () => this.emitStatus("disconnected", "server unreachable"));
    this.socket.io.on("reconnect_attempt", () => this.emitStatus("connecting"));
    this.socket.on("prediction", (p) => this.answered(p, "onPrediction"));
    this.socket.on("error", (e) => this.answered(e, "onError"));
    this.socket.on("model", (m) => {
      if (m && typeof m.name === "string") this.call("onModel", m.name);
    });
  }

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  /** Stop sending (e.g. camera off); resume() picks up again. */
  pause() {
    this.paused = true;
    this.ahead = null;
    clearTimeout(this.timer); // the in-flight timeout stays armed, so resume() never stalls
  }

  resume() {
    this.paused = false;
    if (!this.inFlight) this.schedule(0);
  }

  answered(msg, handler) {
    const now = performance.now();
    const id = msg && typeof msg.id === "number" ? msg.id : null;
    if (this.inFlight && id === this.inFlight.id) {
      this.stats.add(now - this.inFlight.sentAt, now);
      this.inFlight = null;
      clearTimeout(this.timeoutTimer);
      this.schedule(Math.max(0, this.lastSentAt + this.minIntervalMs - now));
    } else if (id !== null && id < this.nextId - 1) {
      return; // a late answer to a frame we already gave up on: stale, ignore it
    }
    this.call(handler, msg);
  }

  schedule(delayMs) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), delayMs);
  }

  async pump() {
    if (this.paused || this.inFlight || !this.connected) return;
    const frame = await this.nextFrame();
    if (!frame) {
      this.schedule(100); // camera not ready yet
      return;
    }
    if (this.paused || this.inFlight || !this.connected) return;
    const id = this.nextId;
    this.nextId += 1;
    const sentAt = performance.now();
    this.inFlight = { id, sentAt };
    this.lastSentAt = sentAt;
    this.framesSent += 1;
    // The box is optional in the contract: a frame without one is read in the guide square,
    // unless the hand locator looked at it (located): then it has no hand. Landmarks (and
    // handedness) go with a box, for models that read the hand's shape too.
    const message = { id, image: frame.image };
    if (frame.located) message.located = true;
    if (frame.box) {
      this.framesWithBox += 1;
      message.box = frame.box;
      if (frame.landmarks) {
        message.landmarks = frame.landmarks;
        if (frame.handedness) message.handedness = frame.handedness;
      }
    }
    this.socket.emit("frame", message);
    if (this.overlap) this.ahead = this.grabTimed();
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = setTimeout(() => {
      if (this.inFlight && this.inFlight.id === id) {
        this.inFlight = null;
        this.schedule(0);
      }
    }, this.timeoutMs);
  }

  /** The frame to send now: the one grabbed ahead while it is fresh, else a new grab. */
  async nextFrame() {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead) {
      const frame = await ahead;
      if (frame && performance.now() - frame.grabbedAt <= STALE_FRAME_MS) return frame;
    }
    return this.grabTimed();
  }

  /** grab() with the time it finished (null when no frame is ready or the grab failed). */
  async grabTimed() {
    try {
      const frame = await this.grab();
      return frame ? { ...frame, grabbedAt: performance.now() } : null;
    } catch (err) {
      console.warn("signlive: frame capture failed", err);
      return null;
    }
  }

  clearTimers() {
    clearTimeout(this.timer);
    clearTimeout(this.timeoutTimer);
  }

  emitStatus(state, detail = "") {
    this.call("onStatus", state, detail);
  }

  call(name, ...args) {
    const fn = this.handlers[name];
    if (fn) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`signlive: ${name} handler failed`, err);
      }
    }
  }
}
