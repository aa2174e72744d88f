// The live page (/): the recognizer plus mirror, camera switch and transcript actions.

import { readConfig } from "./config.js";
import { Recognizer } from "./recognizer.js";
import { Camera } from "./camera.js";

const cfg = readConfig();
const rec = new Recognizer(cfg, { onWord: (word) => offer(word), onAppend: () => withdraw() });
window.signlive = rec; // for the browser tests and for curious people in the console

const $ = (id) => document.getElementById(id);
const toast = $("toast");
let toastTimer = null;

function say(message) {
  toast.textContent = message;
  toast.classList.add("is-visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove("is-visible"), 2200);
}

function edit(action) {
  action();
  rec.renderTranscript();
}

// --- camera controls ---------------------------------------------------------------------
let mirrored = true;
function setMirror(on) {
  mirrored = on;
  $("mirror").setAttribute("aria-pressed", String(on));
  rec.setMirrored(on);
}
$("mirror").addEventListener("click", () => setMirror(!mirrored));

$("switch-camera").addEventListener("click", async () => {
  const button = $("switch-camera");
  button.disabled = true;
  const ok = await rec.startCamera(true);
  // The rear camera is not a mirror: show it as the world sees it, the selfie camera mirrored.
  if (ok) setMirror(rec.camera.facingMode === "user");
  button.disabled = false;
});

$("retry-camera").addEventListener("click", () => rec.startCamera());

// --- transcript actions ------------------------------------------------------------------
$("btn-space").addEventListener("click", () => edit(() => rec.speller.space()));
$("btn-backspace").addEventListener("click", () => edit(() => rec.speller.backspace()));
$("btn-clear").addEventListener("click", () => edit(() => rec.speller.clear()));

const canSpeak = "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;
if (!canSpeak) {
  $("btn-speak").disabled = true;
  $("btn-speak").title = "This browser cannot speak";
}
$("btn-speak").addEventListener("click", () => {
  const text = rec.speller.text.trim();
  if (!text) return say("Nothing to speak yet");
  window.speechSynthesis.cancel();
  const utterance = new SpeechSynthesisUtterance(text.toLowerCase());
  utterance.lang = "en-US";
  window.speechSynthesis.speak(utterance);
  return undefined;
});

/** Copy with the async Clipboard API, or select-and-execCommand where it is missing/denied. */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission denied or not focused: fall through to the old way
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

$("btn-copy").addEventListener("click", async () => {
  const text = rec.speller.text;
  if (!text) return say("Nothing to copy yet");
  say((await copyText(text)) ? "Copied to the clipboard" : "Copy failed: select the text and copy it");
  return undefined;
});

// --- word suggestions ----------------------------------------------------------------------
// When the hand drops after a word the server offers up to 3 words (webapp/serve/suggest.py); one
// replaces the spelled word only when the user picks it (a click, or 1-3): names are what
// people fingerspell most. Any new letter or edit withdraws the offer.
const suggestionBox = $("suggestions");
const suggestionButtons = Array.from(suggestionBox.querySelectorAll("[data-role=suggestion]"));
let offered = null; // {spelled, suggestions}

function offer(word) {
  offered = word.suggestions.length && rec.speller.endedWord() === word.spelled ? word : null;
  suggestionButtons.forEach((button, i) => {
    const text = offered ? offered.suggestions[i] : undefined;
    button.hidden = !text;
    button.querySelector("[data-role=word]").textContent = text || "";
  });
  suggestionBox.hidden = !offered;
}

function withdraw() {
  if (offered) offer({ spelled: "", suggestions: [] });
}

function accept(index) {
  if (!offered || index >= offered.suggestions.length) return;
  const { spelled, suggestions } = offered;
  edit(() => rec.speller.replaceLastWord(spelled, suggestions[index]));
  withdraw();
}

suggestionButtons.forEach((button, i) => button.addEventListener("click", () => accept(i)));
for (const id of ["btn-space", "btn-backspace", "btn-clear"]) {
  $(id).addEventListener("click", withdraw);
}

// Keyboard: 1-3 pick a suggestion and Escape dismisses them wherever the focus is (but in a
// text field); Space and Backspace edit the transcript when no control has the focus (on a
// focused button Space presses it).
function typing(target) {
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (offered && ["1", "2", "3"].includes(event.key)) {
    event.preventDefault();
    accept(Number(event.key) - 1);
    return;
  }
  if (offered && event.key === "Escape") {
    withdraw();
    return;
  }
  if (target !== document.body && target !== document.documentElement) return;
  if (event.key === " ") {
    event.preventDefault();
    withdraw();
    edit(() => rec.speller.space());
  } else if (event.key === "Backspace") {
    event.preventDefault();
    withdraw();
    edit(() => rec.speller.backspace());
  }
});

// Only offer the camera switch where there is something to switch to (counted once the
// camera is allowed: before that, browsers may list a single placeholder device).
rec.start().then(async () => {
  if (rec.cameraState === "running" && (await Camera.countVideoInputs()) === 1) {
    $("switch-camera").hidden = true;
  }
});
