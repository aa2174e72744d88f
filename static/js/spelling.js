// The transcript the page shows: letters the server's stream decoder committed
// (webapp/serve/decoder.py reads the frames; the page only writes down what it commits), edited by
// the user with Space, Backspace, Clear and by picking a suggested word. Pure logic, no DOM,
// so it can be unit-tested in a page.

export class Speller {
  constructor({ maxLength = 5000 } = {}) {
    this.maxLength = maxLength;
    this.text = "";
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

  /**
   * Take back up to `count` letters from the end of the word being spelled (the server read a
   * J or Z whose handshape it had written as I or D while it was drawn); never a space, never
   * more than the word holds.
   */
  retract(count) {
    const n = Math.min(Math.max(0, Math.floor(count) || 0), this.lastWord().length);
    if (n) this.text = this.text.slice(0, -n);
  }

  clear() {
    this.text = "";
  }

  /** The word being spelled: the letters after the last space (empty after a space). */
  lastWord() {
    const match = /[^ ]*$/.exec(this.text);
    return match ? match[0] : "";
  }

  /**
   * The last word written, whether or not a space has ended it yet (the hand dropped, or the
   * user pressed Space): the word a suggestion is for.
   */
  endedWord() {
    const match = /([^ ]*) ?$/.exec(this.text);
    return match ? match[1] : "";
  }

  /**
   * Replace the last word written, if it is still `spelled`, with `word` and end it with a
   * space (the user picked a suggestion). Returns false, changing nothing, when the transcript
   * has moved on since (more letters, an edit): a suggestion never replaces anything else.
   */
  replaceLastWord(spelled, word) {
    if (!spelled || this.endedWord() !== spelled) return false;
    this.text = this.text.replace(/[^ ]* ?$/, "");
    this.append(word);
    this.space();
    return true;
  }
}
