// Video frame -> JPEG bytes. One canvas, reused for every frame (a page that runs for days
// must not create a canvas or an object URL per frame).

import { captureSize } from "./geometry.js";

export class FrameCapture {
  constructor({ cropFraction, maxSide, quality = 0.7 }) {
    this.cropFraction = cropFraction;
    this.maxSide = maxSide;
    this.quality = quality;
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false });
  }

  /** The current video frame as JPEG bytes (ArrayBuffer), or null when no frame is ready. */
  async grab(video) {
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh || video.readyState < 2) return null;
    const { width, height } = captureSize(vw, vh, this.cropFraction, this.maxSide);
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    this.ctx.drawImage(video, 0, 0, width, height);
    const blob = await new Promise((resolve) => {
      this.canvas.toBlob(resolve, "image/jpeg", this.quality);
    });
    if (!blob) return null;
    return blob.arrayBuffer();
  }
}
