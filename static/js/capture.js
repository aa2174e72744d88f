// Video frame -> JPEG bytes, plus where the hand is in that very frame. One canvas, reused for
// every frame (a page that runs for days must not create a canvas or an object URL per frame).
//
// The hand locator (hand-locator.js, MediaPipe Hands) reads the same canvas the JPEG is
// encoded from, right after drawImage, so the box is in the encoded frame's pixels: exactly
// what the server crops around. Without a locator (turned off, not started yet, or failed)
// frames go without a box and the server reads the guide square.

import { captureSize } from "./geometry.js";
import { NO_HAND } from "./hand-locator.js";

// A locate() that takes longer than this is treated as a failure (the locator is dropped and
// frames go on without a box): a stuck WASM call must never stall the frame loop.
const LOCATE_TIMEOUT_MS = 5000;

export class FrameCapture {
  /**
   * onLocatorError(err): called once the locator failed on a frame (it is dropped then).
   */
  constructor({ cropFraction, maxSide, quality = 0.7, onLocatorError = null }) {
    this.cropFraction = cropFraction;
    this.maxSide = maxSide;
    this.quality = quality;
    this.onLocatorError = onLocatorError;
    this.locator = null; // a ready HandLocator, set by the page once it has started
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false });
    this.busy = false;
    this.timeoutTimer = null;
  }

  /**
   * The current video frame as {image: ArrayBuffer (JPEG), box: [x, y, w, h] | null,
   * landmarks: [[x, y, z] x 21] | null, handedness, located, width, height} (box, landmarks
   * and size in the encoded frame's pixels; located: the locator looked at this frame, so a
   * null box means no hand), or null when no frame is ready (or a grab is running).
   */
  async grab(video) {
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh || video.readyState < 2 || this.busy) return null;
    this.busy = true;
    try {
      const { width, height } = captureSize(vw, vh, this.cropFraction, this.maxSide);
      if (this.canvas.width !== width) this.canvas.width = width;
      if (this.canvas.height !== height) this.canvas.height = height;
      this.ctx.drawImage(video, 0, 0, width, height);
      // toBlob snapshots the canvas now and encodes off the main thread, while the locator
      // reads the same pixels: the two run side by side.
      const encoded = new Promise((resolve) => {
        this.canvas.toBlob(resolve, "image/jpeg", this.quality);
      });
      const hand = this.locator ? await this.locate(width, height) : null;
      const located = this.locator !== null; // still there: it looked (a failure drops it)
      const blob = await encoded;
      if (!blob) return null;
      return { image: await blob.arrayBuffer(), ...(hand || NO_HAND), located, width, height };
    } finally {
      this.busy = false;
    }
  }

  /** The hand in the canvas, or null (no hand, or the locator failed and is dropped). */
  async locate(width, height) {
    const locator = this.locator;
    let timedOut = false;
    const timeout = new Promise((resolve) => {
      this.timeoutTimer = setTimeout(() => {
        timedOut = true;
        resolve(null);
      }, LOCATE_TIMEOUT_MS);
    });
    try {
      const hand = await Promise.race([locator.find(this.canvas, width, height), timeout]);
      if (timedOut) throw new Error(`the hand locator took over ${LOCATE_TIMEOUT_MS} ms`);
      return hand;
    } catch (err) {
      this.locator = null;
      if (this.onLocatorError) this.onLocatorError(err);
      return null;
    } finally {
      clearTimeout(this.timeoutTimer);
    }
  }
}
