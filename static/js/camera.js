// The webcam: start/stop/switch with getUserMedia, and errors turned into sentences a
// person can act on.

export class CameraError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Why the camera could not start, as {code, message}. */
export function describeCameraError(err) {
  if (err instanceof CameraError) return { code: err.code, message: err.message };
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
    return {
      code: "denied",
      message:
        "Camera access was denied. Allow the camera for this site (the camera icon in the " +
        "address bar) and reload the page.",
    };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return { code: "no_camera", message: "No camera was found. Connect a camera and reload the page." };
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return {
      code: "busy",
      message: "The camera is in use by another application or could not be started. Close it there and retry.",
    };
  }
  return {
    code: "other",
    message: `The camera could not be started (${(err && (err.message || err.name)) || "unknown error"}).`,
  };
}

export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.facingMode = "user";
  }

  /** Start (or restart) the camera with the current facing mode; resolves when frames flow. */
  async start() {
    if (!window.isSecureContext) {
      throw new CameraError(
        "insecure",
        "The camera needs a secure page: open this site over https, or on localhost.",
      );
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new CameraError("unsupported", "This browser cannot use a camera (no getUserMedia).");
    }
    this.stop();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: {
        facingMode: { ideal: this.facingMode },
        width: { ideal: 1280 },
        height: { ideal: 720 },
      },
    });
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.muted = true;
    this.video.playsInline = true;
    await this.video.play().catch(() => {}); // autoplay of a muted stream is allowed
    if (!this.video.videoWidth) {
      await new Promise((resolve) => {
        this.video.addEventListener("loadedmetadata", resolve, { once: true });
      });
    }
    return stream;
  }

  /** Front <-> rear camera (phones); restarts the stream. */
  async switchFacing() {
    this.facingMode = this.facingMode === "user" ? "environment" : "user";
    return this.start();
  }

  get running() {
    return Boolean(this.stream && this.stream.getVideoTracks().some((t) => t.readyState === "live"));
  }

  stop() {
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      this.stream = null;
    }
    this.video.srcObject = null;
  }

  /** Number of video inputs, to hide the switch button on single-camera machines. */
  static async countVideoInputs() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      return devices.filter((d) => d.kind === "videoinput").length;
    } catch {
      return 0;
    }
  }
}
