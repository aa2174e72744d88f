// Where the hand is in a frame: MediaPipe Hands (vendored in static/vendor, runs offline in
// the page) -> the box around its 21 landmarks, in frame pixels. The server crops a square
// around that box (webapp/preprocess.py hand_square) before the resize.
//
// One localization method: the live and kiosk pages call this module on the very canvas they
// encode, and `signlive locate` runs it over the photo sets in headless Chromium
// (static/locate.html), so a photo in training or evaluation is cropped like a live frame.

export const HANDS_VERSION = "0.4.1675469240";
export const HANDS_DIR = `/static/vendor/mediapipe-hands-${HANDS_VERSION}/`;
// The lite landmark model: the one vendored, and fast enough for every frame on a laptop.
export const LOCATOR_OPTIONS = Object.freeze({
  maxNumHands: 1,
  modelComplexity: 0,
  minDetectionConfidence: 0.5,
  minTrackingConfidence: 0.5,
  useCpuInference: true,
});

/**
 * The tight box around normalized landmarks ({x, y} in 0..1 of the frame) in frame pixels,
 * clipped to the frame: [x, y, w, h] as integers, or null when there is nothing to box.
 */
export function landmarksBox(landmarks, width, height) {
  if (!landmarks || landmarks.length === 0 || !(width > 0) || !(height > 0)) return null;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of landmarks) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  if (!Number.isFinite(x0)) return null;
  const left = Math.max(0, Math.floor(x0 * width));
  const top = Math.max(0, Math.floor(y0 * height));
  const right = Math.min(width, Math.ceil(x1 * width));
  const bottom = Math.min(height, Math.ceil(y1 * height));
  if (right - left < 1 || bottom - top < 1) return null;
  return [left, top, right - left, bottom - top];
}

/** MediaPipe Hands behind one call: an image (canvas, img, video) -> box or null. */
export class HandLocator {
  /**
   * staticImages: true for unrelated photos (palm detection on every image), false for video
   * (MediaPipe tracks the hand from frame to frame and re-detects when it loses it).
   */
  constructor({ baseUrl = HANDS_DIR, staticImages = false } = {}) {
    if (typeof window.Hands !== "function") {
      throw new Error("MediaPipe Hands is not loaded (static/vendor hands.js)");
    }
    this.hands = new window.Hands({ locateFile: (file) => baseUrl + file });
    this.hands.setOptions({ ...LOCATOR_OPTIONS, staticImageMode: staticImages });
    this.landmarks = null;
    this.hands.onResults((results) => {
      const found = results.multiHandLandmarks;
      this.landmarks = found && found.length ? found[0] : null;
    });
    this.readyPromise = null;
    this.busy = false;
  }

  /** Loads the WASM and the models (once); rejects when they cannot run here. */
  ready() {
    if (!this.readyPromise) this.readyPromise = this.hands.initialize();
    return this.readyPromise;
  }

  /** The hand's box in the image's pixels (width x height), or null when no hand is found. */
  async locate(image, width, height) {
    await this.ready();
    this.landmarks = null;
    this.busy = true;
    try {
      await this.hands.send({ image });
    } finally {
      this.busy = false;
    }
    return landmarksBox(this.landmarks, width, height);
  }

  close() {
    return this.hands.close();
  }
}
