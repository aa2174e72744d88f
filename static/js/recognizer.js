// What the live and kiosk pages share: camera -> frames (+ the hand box found in each) -> /live
// -> predictions (with the letters the server's stream decoder committed, and finished words
// with suggestions) -> transcript, wired to the views. The pages add their own controls.

import { Camera, describeCameraError } from "./camera.js";
import { FrameCapture } from "./capture.js";
import { HandLocator } from "./hand-locator.js";
import { GuideBox, HandBox, PredictionView, StatusView, TranscriptView } from "./overlay.js";
import { LiveClient } from "./socket-client.js";
import { Speller } from "./spelling.js";

const LOCATOR_START_TIMEOUT_MS = 60000; // WASM (6 MB) + models (6 MB) over a slow link

export class Recognizer {
  constructor(cfg, { maxLength = 5000, maxShown = 0, keepTail = false, onAppend = null,
                     onWord = null } = {}) {
    this.cfg = cfg;
    this.onAppend = onAppend;
    this.onWord = onWord; // ({spelled, suggestions}) when the hand drops after a word
    this.video = document.getElementById("video");
    this.camera = new Camera(this.video);
    this.capture = new FrameCapture({
      cropFraction: cfg.crop_fraction,
      maxSide: cfg.max_side,
      onLocatorError: (err) => this.locatorFailed(err),
    });
    this.guide = new GuideBox(this.video, document.getElementById("guide"), cfg.crop_fraction);
    this.handBox = new HandBox(this.video, document.getElementById("hand-box"));
    this.handBox.mirrored = this.video.classList.contains("is-mirrored");
    this.locatorState = "off"; // off | starting | on | failed (also body[data-hand-locator])
    this.locatorWarned = false;
    this.prediction = new PredictionView(document.getElementById("prediction"), cfg.confidence_threshold);
    this.status = new StatusView(document.getElementById("status"));
    this.transcript = new TranscriptView(document.getElementById("transcript"), {
      maxShown,
      keepTail,
    });
    this.speller = new Speller({ maxLength });
    this.modelName = document.getElementById("model-name");
    this.message = document.getElementById("camera-message");
    this.messageText = document.getElementById("camera-message-text");
    this.cameraState = "idle";
    this.lastLetterAt = performance.now();

    this.client = new LiveClient({
      fpsCap: cfg.fps_cap,
      overlap: Boolean(cfg.overlap),
      grab: () => (this.camera.running ? this.grabFrame() : Promise.resolve(null)),
      handlers: {
        onPrediction: (p) => this.onPrediction(p),
        onError: (e) => this.onServerError(e),
        onModel: (name) => this.setModel(name),
        onStatus: (state, detail) => {
          this.status.setState(state, detail);
          if (state !== "connected") {
            this.prediction.clear();
            this.handBox.hide(); // no frames go out: the box would go stale
          }
        },
      },
    });
    this.statsTimer = setInterval(() => {
      if (this.client.connected) {
        this.status.setFigures(this.client.stats.rtt(), this.client.stats.fps(performance.now()));
      }
    }, 500);
    this.renderTranscript();
  }

  start() {
    this.startLocator();
    // A hidden tab sends nothing (nobody is watching, and the server has other clients).
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.client.pause();
      else this.client.resume();
    });
    this.client.connect();
    return this.startCamera();
  }

  /** One frame and its hand box for the server; the box is drawn over the video. */
  async grabFrame() {
    const frame = await this.capture.grab(this.video);
    if (frame && this.locatorState === "on") {
      this.handBox.show(frame.box, frame.width, frame.height);
    }
    return frame;
  }

  /**
   * Load the hand locator (MediaPipe Hands, WASM) in the background. Until it is ready, and
   * for good if it cannot run here, frames go without a box: the server then reads the guide
   * square, so the page works the same, only without the hand crop.
   */
  startLocator() {
    if (!this.cfg.hand_locator) {
      this.setLocatorState("off");
      return;
    }
    this.setLocatorState("starting");
    let locator;
    try {
      locator = new HandLocator({ staticImages: false });
    } catch (err) {
      this.locatorFailed(err);
      return;
    }
    // A load that neither finishes nor fails (a stalled download) is reported as a failure;
    // should it finish after all, the locator is taken into use then.
    let late = false;
    const giveUp = setTimeout(() => {
      if (this.locatorState === "starting") {
        late = true;
        this.locatorFailed(new Error(`not ready after ${LOCATOR_START_TIMEOUT_MS} ms`));
      }
    }, LOCATOR_START_TIMEOUT_MS);
    locator.ready().then(
      () => {
        clearTimeout(giveUp);
        if (this.locatorState !== "starting" && !late) return;
        this.capture.locator = locator;
        this.setLocatorState("on");
      },
      (err) => {
        clearTimeout(giveUp);
        this.locatorFailed(err);
      },
    );
  }

  locatorFailed(err) {
    this.capture.locator = null;
    this.handBox.hide();
    this.setLocatorState("failed");
    if (this.locatorWarned) return;
    this.locatorWarned = true;
    // One warning, then the page goes on with the guide square.
    console.warn("signlive: the hand locator cannot run here; frames are sent without a hand "
                 + "box and the server reads the guide square.", err);
  }

  setLocatorState(state) {
    this.locatorState = state;
    document.body.dataset.handLocator = state;
  }

  /** Start (or restart) the camera; shows a clear message and resolves false on failure. */
  async startCamera(switchFacing = false) {
    this.setCameraState("starting");
    try {
      if (switchFacing) await this.camera.switchFacing();
      else await this.camera.start();
    } catch (err) {
      const { code, message } = describeCameraError(err);
      this.setCameraState("error", message, code);
      return false;
    }
    const [track] = this.camera.stream.getVideoTracks();
    if (track) {
      track.addEventListener("ended", () => {
        this.setCameraState("error", "The camera stopped (unplugged or taken by another app).", "ended");
      }, { once: true });
    }
    this.setCameraState("running");
    this.guide.draw();
    return true;
  }

  setCameraState(state, message = "", code = "") {
    this.cameraState = state;
    document.body.dataset.camera = state;
    if (state !== "running") this.handBox.hide();
    if (code) document.body.dataset.cameraError = code;
    else delete document.body.dataset.cameraError;
    if (this.message) this.message.hidden = state === "running";
    if (this.messageText) {
      this.messageText.textContent = state === "starting" ? "Starting the camera…" : message;
    }
  }

  setMirrored(mirrored) {
    this.video.classList.toggle("is-mirrored", mirrored);
    this.guide.setMirrored(mirrored);
    this.handBox.setMirrored(mirrored);
  }

  setModel(name) {
    if (this.modelName && name && this.modelName.textContent !== name) {
      this.modelName.textContent = name;
    }
  }

  onPrediction(p) {
    const now = performance.now();
    this.prediction.show(p);
    if (p && p.model) this.setModel(p.model);
    this.prediction.setHold(p && typeof p.hold === "number" ? p.hold : 0);
    const committed = p && Array.isArray(p.committed) ? p.committed : [];
    const retract = p && Number.isInteger(p.retract) ? p.retract : 0;
    if (retract > 0) this.speller.retract(retract);
    for (const letter of committed) {
      if (typeof letter !== "string" || !/^[A-Z]$/.test(letter)) continue;
      this.speller.append(letter);
      this.lastLetterAt = now;
      if (this.onAppend) this.onAppend(letter);
    }
    const ended = p && p.word && typeof p.word.spelled === "string";
    // The server ended the word (the hand dropped after it): so does the transcript, with a
    // space, or the next word would run into this one.
    if (ended) this.speller.space();
    if (committed.length || retract > 0 || ended) this.renderTranscript();
    if (ended && this.onWord) {
      const suggestions = Array.isArray(p.word.suggestions)
        ? p.word.suggestions.filter((w) => typeof w === "string" && /^[A-Z]+$/.test(w)) : [];
      this.onWord({ spelled: p.word.spelled, suggestions });
    }
  }

  onServerError(e) {
    // A refused frame (the server names why) shows as "no sign"; the loop goes on.
    this.prediction.show(null);
    if (e && e.code) console.warn(`signlive: server refused frame ${e.id}: ${e.code}: ${e.message}`);
  }

  renderTranscript() {
    this.transcript.render(this.speller.text);
  }
}
