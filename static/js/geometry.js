// Where the guide square lies: in camera-frame pixels (the server's crop) and on screen.
// Pure functions, no DOM access, so they can be checked outside a page.

/** Python's round(): halves go to the even neighbour, so the page and the server agree. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The centered guide square in frame pixels: the same formula as webapp/model/preprocess.py
 * guide_square(): side = round(crop_fraction * shorter side), x = (width - side) // 2.
 */
export function guideSquare(width, height, cropFraction) {
  const side = Math.max(1, roundHalfEven(Math.min(width, height) * cropFraction));
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

/**
 * How a video of videoW x videoH frame pixels is laid out inside an element of elemW x elemH
 * CSS pixels for an object-fit of "contain", "cover", "fill", "none" or "scale-down" (object-position
 * centered): the scale factors and the offset of the frame's top-left corner.
 */
export function fitVideo(videoW, videoH, elemW, elemH, fit = "contain") {
  let sx;
  let sy;
  if (fit === "fill") {
    sx = elemW / videoW;
    sy = elemH / videoH;
  } else if (fit === "none") {
    sx = 1;
    sy = 1;
  } else if (fit === "cover") {
    sx = sy = Math.max(elemW / videoW, elemH / videoH);
  } else {
    sx = sy = Math.min(elemW / videoW, elemH / videoH);
    if (fit === "scale-down") sx = sy = Math.min(1, sx);
  }
  return { sx, sy, ox: (elemW - videoW * sx) / 2, oy: (elemH - videoH * sy) / 2 };
}

/**
 * A frame-pixel rectangle -> CSS pixels inside the displayed video element. When the video
 * is shown mirrored (CSS scaleX(-1)), x flips around the element's center; a centered
 * square stays where it is.
 */
export function frameRectToElement(rect, videoW, videoH, elemW, elemH, fit, mirrored) {
  const { sx, sy, ox, oy } = fitVideo(videoW, videoH, elemW, elemH, fit);
  const w = (rect.w ?? rect.side) * sx;
  const h = (rect.h ?? rect.side) * sy;
  let x = ox + rect.x * sx;
  const y = oy + rect.y * sy;
  if (mirrored) x = elemW - x - w;
  return { x, y, w, h };
}

/**
 * The size to encode a frame at: no bigger than max_side on its long side, but never so
 * small that the guide square drops below minGuide pixels (unless the camera itself is
 * smaller). Downscaling keeps proportions, so the server's crop lands on the same content.
 */
export function captureSize(width, height, cropFraction, maxSide, minGuide = 224) {
  const guide = Math.min(width, height) * cropFraction;
  const scale = Math.min(1, Math.max(maxSide / Math.max(width, height), minGuide / guide));
  return {
    width: Math.max(2, Math.round(width * scale)),
    height: Math.max(2, Math.round(height * scale)),
  };
}
