// The page settings the server renders into <script type="application/json" id="signlive-config">.
// Read once at start-up; JSON (not inline JS) keeps the pages compatible with a strict CSP.

export const DEFAULTS = Object.freeze({
  crop_fraction: 400 / 480,
  confidence_threshold: 0.6,
  model_name: "",
  stable_ms: 500,
  fps_cap: 15,
  idle_clear_s: 20,
  max_side: 640,
  hand_locator: 1, // 1: find the hand (MediaPipe Hands) and send its box; 0: guide square only
  overlap: 1, // 1: grab the next frame while the server reads the last (socket-client.js); 0: in turn
});

// Settings that must be > 0 (the others may be 0, e.g. a threshold of 0 in tests).
const POSITIVE = new Set(["crop_fraction", "fps_cap", "max_side"]);

/** Parse the config element; unknown or malformed values fall back to DEFAULTS. */
export function readConfig(doc = document) {
  const el = doc.getElementById("signlive-config");
  let raw = {};
  if (el) {
    try {
      raw = JSON.parse(el.textContent || "{}") || {};
    } catch (err) {
      console.warn("signlive: page config is not valid JSON; using defaults", err);
    }
  }
  const cfg = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    const value = raw[key];
    if (typeof DEFAULTS[key] === "number") {
      const min = POSITIVE.has(key) ? Number.MIN_VALUE : 0;
      if (typeof value === "number" && Number.isFinite(value) && value >= min) cfg[key] = value;
    } else if (typeof value === "string") {
      cfg[key] = value;
    }
  }
  return Object.freeze(cfg);
}
