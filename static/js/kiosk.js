// The kiosk page (/kiosk): unattended, full screen, for days. Auto-starts the camera and
// retries it, keeps the screen awake, clears the transcript when nobody has signed for a
// while, and keeps a fixed set of DOM nodes (the transcript is capped).

import { readConfig } from "./config.js";
import { Recognizer } from "./recognizer.js";

const cfg = readConfig();
const rec = new Recognizer(cfg, { maxLength: 80, maxShown: 0, keepTail: true });
window.signlive = rec;

const CAMERA_RETRY_MS = 10000;

// --- idle clear ----------------------------------------------------------------------------
setInterval(() => {
  if (rec.speller.text && performance.now() - rec.lastLetterAt > cfg.idle_clear_s * 1000) {
    rec.speller.clear();
    rec.renderTranscript();
  }
}, 1000);

// --- camera: start, and keep trying when it fails or goes away ------------------------------
let retryTimer = null;
async function ensureCamera() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (rec.cameraState === "running" && rec.camera.running) return;
  const ok = await rec.startCamera();
  if (!ok && rec.cameraState === "error") {
    // A denied permission will not fix itself, but a replugged camera will: retry quietly.
    retryTimer = setTimeout(ensureCamera, CAMERA_RETRY_MS);
  }
}
setInterval(() => {
  if (!rec.camera.running && rec.cameraState !== "starting" && !retryTimer) ensureCamera();
}, CAMERA_RETRY_MS);

// --- screen wake lock ------------------------------------------------------------------------
let wakeLock = null;
async function keepAwake() {
  if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    document.body.dataset.wakeLock = "on";
    wakeLock.addEventListener("release", () => {
      wakeLock = null;
      document.body.dataset.wakeLock = "off";
    });
  } catch (err) {
    document.body.dataset.wakeLock = "unavailable";
    console.info("signlive: screen wake lock unavailable:", err && err.message);
  }
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    keepAwake();
    ensureCamera();
  }
});

// --- fullscreen toggle -----------------------------------------------------------------------
const fsButton = document.getElementById("fullscreen");
if (!document.fullscreenEnabled) fsButton.hidden = true;
fsButton.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else document.documentElement.requestFullscreen({ navigationUI: "hide" }).catch(() => {});
});
// Browsers grant full screen and wake lock only after a user gesture on some devices:
// the first touch anywhere asks again.
document.addEventListener("pointerdown", keepAwake, { once: true });

rec.start().then(ensureCamera);
keepAwake();
