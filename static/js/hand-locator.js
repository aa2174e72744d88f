// Where the hand is in a frame: MediaPipe Hands (vendored in static/vendor, runs offline in
// the page) -> the box around its 21 landmarks, in frame pixels. The server crops a square
// around that box (webapp/model/preprocess.py hand_square) before the resize.
//
// One localization method: the live and kiosk pages call this module on the very canvas they
// encode, and `signlive locate` runs it over the photo sets in headless Chromium
// (static/locate.html), so a photo in training or evaluation is cropped like a live frame.

export const HANDS_VERSION = "0.4.1675469240";
export const HANDS_DIR = `/static/vendor/mediapipe-hands-${HANDS_VERSION}/`;
// The full landmark model (1; lite is 0). Across the 23 non-held-out photo sources it finds
// more hands than lite (19,392 against 18,385 of 22,888, both with the padded second look)
// and its 21 points read the letter better (2.8 points, bench/shape_cv.py), at 1.3x lite's
// cost per tracked frame (docs/RESULTS.md, "The full landmark model"; docs/PERFORMANCE.md).
export const LOCATOR_OPTIONS = Object.freeze({
  maxNumHands: 1,
  modelComplexity: 1,
  minDetectionConfidence: 0.5,
  minTrackingConfidence: 0.5,
  useCpuInference: true,
});

// A hand that fills the picture (a close-up, a photo cropped to the hand) escapes MediaPipe's
// palm detector, which was trained on palms smaller than the picture. So the locator has a
// second look: the picture in the middle of a black square, padded by this fraction of its
// longer side on every side (0.5: the picture fills half the square's side, drawn 1:1, so the
// landmark model still reads it at full resolution). A photo gets the second look when the
// first finds no hand; it found a hand in 5,811 of the 10,373 photos where the first found
// none (docs/RESULTS.md, "Close-ups: the padded second look"). Live frames get it the same
// way, so a frame without a hand costs the page two looks (docs/PERFORMANCE.md).
export const RETRY_PADDING = 0.5;

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

/**
 * The 21 landmarks in frame pixels, [[x, y, z], ...] rounded to 0.1 px (z, MediaPipe's depth
 * relative to the wrist, in the same units as x), or null when any is missing or not finite.
 */
export function landmarksPixels(landmarks, width, height) {
  if (!landmarks || landmarks.length !== 21 || !(width > 0) || !(height > 0)) return null;
  const round = (v) => Math.round(v * 10) / 10;
  const out = [];
  for (const p of landmarks) {
    const z = Number.isFinite(p.z) ? p.z : 0;
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return null;
    out.push([round(p.x * width), round(p.y * height), round(z * width)]);
  }
  return out;
}

/** What a frame or photo carries when no hand is found: find()'s fields, all null. */
export const NO_HAND = Object.freeze({ box: null, landmarks: null, handedness: null });

/** MediaPipe Hands behind one call: an image (canvas, img, video) -> the hand found in it. */
export class HandLocator {
  /**
   * staticImages: true for unrelated photos (palm detection on every image), false for video
   * (MediaPipe tracks the hand from frame to frame and re-detects when it loses it).
   * modelComplexity: LOCATOR_OPTIONS' unless a benchmark compares (bench/hand_locator.py).
   */
  constructor({
    baseUrl = HANDS_DIR,
    staticImages = false,
    modelComplexity = LOCATOR_OPTIONS.modelComplexity,
  } = {}) {
    if (typeof window.Hands !== "function") {
      throw new Error("MediaPipe Hands is not loaded (static/vendor hands.js)");
    }
    this.hands = new window.Hands({ locateFile: (file) => baseUrl + file });
    this.hands.setOptions({ ...LOCATOR_OPTIONS, modelComplexity, staticImageMode: staticImages });
    this.staticImages = staticImages;
    this.landmarks = null;
    this.handedness = null;
    this.hands.onResults((results) => {
      const found = results.multiHandLandmarks;
      const sides = results.multiHandedness;
      this.landmarks = found && found.length ? found[0] : null;
      this.handedness = sides && sides.length && sides[0].label ? sides[0].label : null;
    });
    this.readyPromise = null;
    this.busy = false;
    this.padCanvas = null;
  }

  /** Loads the WASM and the models (once); rejects when they cannot run here. */
  ready() {
    if (!this.readyPromise) this.readyPromise = this.hands.initialize();
    return this.readyPromise;
  }

  /**
   * The hand in the image's pixels (width x height): {box: [x, y, w, h], landmarks (see
   * landmarksPixels), handedness: "Left" | "Right" | null}, or null when no hand is found.
   */
  async find(image, width, height) {
    await this.ready();
    await this.detect(image);
    if (!this.landmarks) await this.detectPadded(image, width, height);
    const box = landmarksBox(this.landmarks, width, height);
    if (!box) return null;
    return {
      box,
      landmarks: landmarksPixels(this.landmarks, width, height),
      handedness: this.handedness,
    };
  }

  /** One MediaPipe pass; leaves the first hand's normalized landmarks in this.landmarks. */
  async detect(image) {
    this.landmarks = null;
    this.handedness = null;
    this.busy = true;
    try {
      // Unrelated photos: nothing of the previous one may steer this one (MediaPipe keeps
      // some state between calls even in static mode), so each is read the same whatever
      // came before it.
      if (this.staticImages) this.hands.reset();
      await this.hands.send({ image });
    } finally {
      this.busy = false;
    }
  }

  /**
   * The second look (see RETRY_PADDING): the image drawn 1:1 into the middle of a padded black
   * square, the landmarks found there mapped back to the image's normalized coordinates.
   */
  async detectPadded(image, width, height) {
    const side = Math.round(Math.max(width, height) * (1 + 2 * RETRY_PADDING));
    if (!this.padCanvas) this.padCanvas = document.createElement("canvas");
    const canvas = this.padCanvas;
    if (canvas.width !== side) canvas.width = side;
    if (canvas.height !== side) canvas.height = side;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, side, side);
    const left = Math.round((side - width) / 2);
    const top = Math.round((side - height) / 2);
    ctx.drawImage(image, left, top, width, height);
    try {
      await this.detect(canvas);
    } finally {
      // Video: the next frame's first look must not track a hand in the square's coordinates.
      if (!this.staticImages) this.hands.reset();
    }
    if (this.landmarks) {
      this.landmarks = this.landmarks.map((p) => ({
        x: (p.x * side - left) / width,
        y: (p.y * side - top) / height,
        z: (p.z * side) / width,
      }));
    }
  }

  close() {
    return this.hands.close();
  }
}
