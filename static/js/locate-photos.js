// `signlive locate` drives this in headless Chromium: photo URLs in, hand boxes and landmarks
// out, found by the same HandLocator the live page uses (one localization method everywhere).

import { HandLocator, NO_HAND } from "./hand-locator.js";

const locator = new HandLocator({ staticImages: true });

/**
 * Each URL -> {box: [x, y, w, h] | null, landmarks: [[x, y, z] x 21] | null, handedness,
 * width, height} or {error} for an unreadable image.
 */
async function locateBatch(urls) {
  await locator.ready();
  const out = [];
  for (const url of urls) {
    const img = new Image();
    img.src = url;
    try {
      await img.decode();
    } catch (err) {
      out.push({ error: `cannot decode: ${err && err.message ? err.message : err}` });
      continue;
    }
    const width = img.naturalWidth;
    const height = img.naturalHeight;
    const hand = await locator.find(img, width, height);
    out.push({ ...(hand || NO_HAND), width, height });
  }
  return out;
}

window.locateBatch = locateBatch;
window.locatorReady = locator.ready().then(() => true, (err) => String(err));
