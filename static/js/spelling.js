// Turning a stream of per-frame predictions into text. Pure logic, no DOM, no clock of its
// own (callers pass timestamps), so it can be unit-tested in a page or in node.
//
// Rules:
// - a letter that stays the top prediction for stableMs is appended once;
// - the same letter is appended again only after the prediction has been something else
//   (null = "no sign", or another letter) for at least rearmMs, so a double letter (the two
//   Ls of HELLO) needs the hand to leave or change in between, while a one-frame flicker
//   while holding a letter does not double it;
// - a gap in the prediction stream longer than maxGapMs (lost connection, camera switch)
//   restarts the stable stretch instead of bridging it.

export class Speller {
  constructor({ stableMs = 500, rearmMs = 150, maxGapMs = 1500, maxLength = 5000 } = {}) {
    this.stableMs = stableMs;
    this.rearmMs = rearmMs;
    this.maxGapMs = maxGapMs;
    this.maxLength = maxLength;
    this.text = "";
    this.lastAppended = null; // the letter that must be left before it may repeat
    this.candidate = null; // the letter currently on top, or null
    this.candidateSince = 0;
    this.awaySince = null; // when the prediction moved away from lastAppended
    this.lastUpdate = null;
  }

  /**
   * Feed one prediction (a letter string, or null for "no sign") seen at time nowMs.
   * Returns the letter appended by this update, or null.
   */
  update(letter, nowMs) {
    const value = typeof letter === "string" && letter.length > 0 ? letter : null;
    if (this.lastUpdate !== null && nowMs - this.lastUpdate > this.maxGapMs) {
      this.candidate = null;
    }
    this.lastUpdate = nowMs;

    if (this.lastAppended !== null) {
      if (value === this.lastAppended) {
        this.awaySince = null;
      } else {
        if (this.awaySince === null) this.awaySince = nowMs;
        if (nowMs - this.awaySince >= this.rearmMs) {
          this.lastAppended = null;
          this.awaySince = null;
        }
      }
    }

    if (value !== this.candidate) {
      this.candidate = value;
      this.candidateSince = nowMs;
    }
    if (
      value !== null &&
      value !== this.lastAppended &&
      nowMs - this.candidateSince >= this.stableMs
    ) {
      this.lastAppended = value;
      this.awaySince = null;
      this.append(value);
      return value;
    }
    return null;
  }

  /** Progress (0..1) of the current candidate towards being appended, for a UI hint
   * (1 while the letter just spelled is still held). */
  progress(nowMs) {
    if (this.candidate === null) return 0;
    if (this.candidate === this.lastAppended) return 1;
    return Math.min(1, Math.max(0, (nowMs - this.candidateSince) / this.stableMs));
  }

  append(chars) {
    this.text += chars;
    if (this.text.length > this.maxLength) this.text = this.text.slice(-this.maxLength);
  }

  /** A word break; never two spaces in a row or a leading space. */
  space() {
    if (this.text.length > 0 && !this.text.endsWith(" ")) this.append(" ");
  }

  backspace() {
    this.text = this.text.slice(0, -1);
  }

  clear() {
    this.text = "";
  }

  /** Forget the stable stretch in progress (camera switched, connection lost). */
  reset() {
    this.candidate = null;
    this.lastUpdate = null;
  }
}
