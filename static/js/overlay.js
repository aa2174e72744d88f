// DOM views shared by the live and kiosk pages. Every view owns a fixed set of nodes created
// once and updated in place (textContent, classes, CSSOM styles): the DOM never grows, and
// nothing needs an inline style attribute (CSP-friendly).

import { frameRectToElement, guideSquare } from "./geometry.js";

/** The guide square over the video, placed exactly where the server crops. */
export class GuideBox {
  constructor(video, box, cropFraction) {
    this.video = video;
    this.box = box;
    this.cropFraction = cropFraction;
    this.mirrored = false;
    const redraw = () => this.draw();
    video.addEventListener("loadedmetadata", redraw);
    video.addEventListener("resize", redraw); // the stream's size changed (camera switch)
    if (window.ResizeObserver) new ResizeObserver(redraw).observe(video);
    window.addEventListener("resize", redraw);
  }

  setMirrored(mirrored) {
    this.mirrored = mirrored;
    this.draw();
  }

  draw() {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!vw || !vh) {
      this.box.hidden = true;
      return;
    }
    const sq = guideSquare(vw, vh, this.cropFraction);
    const fit = getComputedStyle(this.video).objectFit || "contain";
    const r = frameRectToElement(
      sq, vw, vh, this.video.clientWidth, this.video.clientHeight, fit, this.mirrored,
    );
    // The box is positioned in the video's offset parent, so add the video's own offset.
    const s = this.box.style;
    s.left = `${this.video.offsetLeft + r.x}px`;
    s.top = `${this.video.offsetTop + r.y}px`;
    s.width = `${r.w}px`;
    s.height = `${r.h}px`;
    this.box.dataset.frameRect = `${sq.x},${sq.y},${sq.side}`;
    this.box.hidden = false;
  }
}

/**
 * The hand box the locator found in the last frame sent, over the video (mirrored with it).
 * The box is in the encoded frame's pixels (frameW x frameH, the capture size), scaled here
 * to the video's own pixels. Hidden when no hand is found; the guide square stays as the cue
 * for where to sign when there is no box.
 */
export class HandBox {
  constructor(video, box) {
    this.video = video;
    this.box = box;
    this.mirrored = false;
    this.shown = false;
    // The last box, kept in plain fields (no objects per frame) for redraws on resize.
    this.x = 0;
    this.y = 0;
    this.w = 0;
    this.h = 0;
    this.frameW = 0;
    this.frameH = 0;
    this.rect = { x: 0, y: 0, w: 0, h: 0 };
    if (!box) return;
    const redraw = () => this.draw();
    video.addEventListener("resize", redraw);
    if (window.ResizeObserver) new ResizeObserver(redraw).observe(video);
    window.addEventListener("resize", redraw);
  }

  setMirrored(mirrored) {
    this.mirrored = mirrored;
    this.draw();
  }

  /** Show `box` ([x, y, w, h] in a frameW x frameH frame), or hide when it is null. */
  show(box, frameW, frameH) {
    if (!box || !(frameW > 0) || !(frameH > 0)) {
      this.hide();
      return;
    }
    [this.x, this.y, this.w, this.h] = box;
    this.frameW = frameW;
    this.frameH = frameH;
    this.shown = true;
    this.draw();
  }

  hide() {
    this.shown = false;
    if (this.box && !this.box.hidden) {
      this.box.hidden = true;
      this.box.dataset.frameBox = "";
    }
  }

  draw() {
    if (!this.box || !this.shown) return;
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!vw || !vh) {
      this.box.hidden = true;
      return;
    }
    const kx = vw / this.frameW;
    const ky = vh / this.frameH;
    const rect = this.rect;
    rect.x = this.x * kx;
    rect.y = this.y * ky;
    rect.w = this.w * kx;
    rect.h = this.h * ky;
    const fit = getComputedStyle(this.video).objectFit || "contain";
    const r = frameRectToElement(
      rect, vw, vh, this.video.clientWidth, this.video.clientHeight, fit, this.mirrored,
    );
    const s = this.box.style;
    s.left = `${this.video.offsetLeft + r.x}px`;
    s.top = `${this.video.offsetTop + r.y}px`;
    s.width = `${r.w}px`;
    s.height = `${r.h}px`;
    // For the browser tests: the box as sent to the server, and the frame it refers to.
    this.box.dataset.frameBox = `${this.x},${this.y},${this.w},${this.h}`;
    this.box.dataset.frameSize = `${this.frameW}x${this.frameH}`;
    this.box.hidden = false;
  }
}

/** The current letter, its confidence, the hold-progress ring and the top-3 bars. */
export class PredictionView {
  constructor(root, threshold) {
    this.root = root;
    this.threshold = threshold;
    this.letter = root.querySelector("[data-role=letter]");
    this.confidence = root.querySelector("[data-role=confidence]");
    this.progress = root.querySelector("[data-role=hold]");
    this.rows = Array.from(root.querySelectorAll("[data-role=top] > li")).map((li) => ({
      label: li.querySelector("[data-role=top-letter]"),
      fill: li.querySelector("[data-role=top-fill]"),
      value: li.querySelector("[data-role=top-value]"),
    }));
  }

  show(prediction) {
    const letter = prediction && prediction.letter;
    const conf = prediction && typeof prediction.confidence === "number" ? prediction.confidence : 0;
    const hasSign = typeof letter === "string" && letter.length > 0;
    this.root.classList.toggle("is-sign", hasSign);
    this.root.classList.toggle("is-nosign", !hasSign);
    if (this.letter) this.letter.textContent = hasSign ? letter : "–";
    if (this.confidence) {
      this.confidence.textContent = hasSign ? `${Math.round(conf * 100)}%` : "no sign";
    }
    const top = (prediction && Array.isArray(prediction.top) ? prediction.top : []).slice(0, 3);
    this.rows.forEach((row, i) => {
      const entry = top[i];
      const p = entry ? Math.max(0, Math.min(1, Number(entry[1]) || 0)) : 0;
      if (row.label) row.label.textContent = entry ? String(entry[0]) : "·";
      if (row.value) row.value.textContent = entry ? `${Math.round(p * 100)}%` : "";
      if (row.fill) {
        row.fill.style.transform = `scaleX(${p})`;
        row.fill.classList.toggle("is-above", p >= this.threshold);
      }
    });
  }

  /** Hold progress 0..1 towards appending the current letter. */
  setHold(fraction) {
    if (this.progress) this.progress.style.setProperty("--hold", String(fraction));
  }

  clear() {
    this.show(null);
    this.setHold(0);
  }
}

/** Connection dot + round trip + fps. */
export class StatusView {
  constructor(root) {
    this.root = root;
    this.label = root.querySelector("[data-role=status-label]");
    this.rtt = root.querySelector("[data-role=rtt]");
    this.fps = root.querySelector("[data-role=fps]");
  }

  setState(state, detail = "") {
    this.root.dataset.state = state;
    const words = { connected: "Connected", connecting: "Connecting…", disconnected: "Offline", error: "Error" };
    if (this.label) this.label.textContent = words[state] || state;
    this.root.title = detail ? `${words[state] || state}: ${detail}` : words[state] || state;
    if (state !== "connected") this.setFigures(null, 0);
  }

  setFigures(rttMs, fps) {
    if (this.rtt) this.rtt.textContent = rttMs == null ? "– ms" : `${Math.round(rttMs)} ms`;
    if (this.fps) this.fps.textContent = `${fps.toFixed(fps >= 10 ? 0 : 1)} fps`;
  }
}

/** The transcript: one text node updated in place, showing only its tail when long. */
export class TranscriptView {
  constructor(el, { maxShown = 0, placeholder = "", keepTail = false } = {}) {
    this.el = el;
    this.maxShown = maxShown;
    this.keepTail = keepTail; // single-line display: mark overflow so CSS shows the end
    this.placeholder = placeholder;
    this.text = null;
  }

  render(text) {
    if (text === this.text) return;
    this.text = text;
    const shown = this.maxShown && text.length > this.maxShown ? `…${text.slice(-this.maxShown)}` : text;
    this.el.textContent = shown;
    this.el.scrollTop = this.el.scrollHeight; // a scrolling transcript follows its end
    this.el.dataset.empty = text.length === 0 ? "true" : "false";
    if (this.placeholder) this.el.dataset.placeholder = this.placeholder;
    if (this.keepTail) {
      this.el.classList.remove("is-overflowing");
      this.el.classList.toggle("is-overflowing", this.el.scrollWidth > this.el.clientWidth + 1);
    }
  }
}
