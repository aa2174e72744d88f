"""Spelling rate: words signed by unseen people, played to the live page at 0.5-3 letters/s.

    python -m bench.spelling_rate [--paces 0.5,1,2,3] [--words HELLO,BOOK,...] [--out DIR]
    python -m bench.spelling_rate --replay DIR [--settle-ms MS ...]   # seconds, no browser

What it plays: each word is signed by one held-out source of the photo split (photos-v1:
never trained on), a different source for each word in turn. Each letter is a photo of that
source shown whole to a 640x480 fake camera (person, room and hand, in color); between two
letters the picture blends into the next over 150 ms while the hand shifts a little (what a
camera sees of a hand moving between letters); a double letter is two different photos of
the letter with a slide of 0.6 hand sizes between them; no pause between letters. After each
word the hand drops for 1.5 s (a room without anyone). The photos are those the page's own
locator finds a hand in and the served model reads right when the photo is held still
(`signlive locate`, then the model on what the page sends): the bench measures the spelling
of letters the recognizer can read, not the recognizer (docs/RESULTS.md has that). Each
frame carries its index in a strip of black and white squares in the top-left corner, so the
server side knows which moment of the video every answer belongs to.

What it measures, per pace, in ONE browser run for both rules: the live page (headless
Chromium, the shipped model on an in-process server with the real /live namespace) streams
the video; every answered frame is recorded as the server saw it (time, box, landmarks, the
24 probabilities, the letters the stream decoder committed). The decoder's commits are what
the page spelled; today's hold rule (bench/hold_rule.py, the page's old rule) is run on the
same answers. Scored per word by edit distance: letter accuracy (1 - CER), word accuracy,
false letters a minute while nobody signs (the drops between words), and for the decoder the
intended word first among the suggestions and in the top 3. The recordings land in --out
(default bench/results/spelling-rate), and --replay reruns both rules over them in seconds,
with the decoder's settings overridable, for tuning; the browser run stays the acceptance
check. Writes docs/img/spelling-rate.png with --plot.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from bench.hold_rule import HoldSpeller

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
WORDS = ("HELLO", "BOOK", "COFFEE", "LLAMA", "APPLE", "GOOD", "SEE", "WORLD", "CLAW", "FAX")
PACES = (0.5, 1.0, 2.0, 3.0)
THRESHOLD = 0.6  # the server's default confidence threshold
VIDEO_FPS = 20
BLEND_S = 0.15  # a letter blends into the next over this long, the hand shifting
SHIFT = 0.15  # the hand lands up to this many hand sizes from where the photo has it
SLIDE = 0.6  # a double letter's slide, in hand sizes
LEAD_S = 2.0  # an empty room before the first word
PAUSE_S = 1.5  # ... and after each word (the hand dropped)
LATE_S = 0.3  # a word's last letter may commit this long after its slot
PER_SOURCE = 6  # photos of each letter tried from each source
MARK_BITS, MARK_BLOCK = 14, 12  # the frame index: 14 bits in 12 px squares (+ white, black)
OUT = ROOT / "bench" / "results" / "spelling-rate"
PLOT = ROOT / "docs" / "img" / "spelling-rate.png"


# --- the videos ------------------------------------------------------------------------------

def stamp(frame: np.ndarray, index: int) -> np.ndarray:
    """Write `index` into the frame's top-left corner: MARK_BITS squares (white = 1), then a
    white and a black reference square."""
    bits = [(index >> k) & 1 for k in range(MARK_BITS)] + [1, 0]
    for k, bit in enumerate(bits):
        x = 4 + k * MARK_BLOCK
        frame[4 : 4 + MARK_BLOCK, x : x + MARK_BLOCK] = 255 if bit else 0
    return frame


def read_stamp(image: bytes, camera_width: int = 640) -> int | None:
    """The frame index stamped into an encoded frame as the page sent it (any scale)."""
    gray = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return None
    scale = gray.shape[1] / camera_width
    values = []
    for k in range(MARK_BITS + 2):
        cx = (4 + k * MARK_BLOCK + MARK_BLOCK / 2) * scale
        cy = (4 + MARK_BLOCK / 2) * scale
        r = max(1, int(MARK_BLOCK * scale / 4))
        values.append(float(gray[int(cy) - r : int(cy) + r, int(cx) - r : int(cx) + r].mean()))
    white, black = values[-2], values[-1]
    if white - black < 60:
        return None
    middle = (white + black) / 2
    return sum(1 << k for k, v in enumerate(values[:MARK_BITS]) if v > middle)


@dataclass(frozen=True)
class Shot:
    """One photo as the camera shows it: the BGR frame and the hand's size in it (pixels)."""

    path: str
    frame: np.ndarray
    hand: float


@dataclass(frozen=True)
class WordSpan:
    """Where a word sits in its video (seconds): its letters' slots, then the hand dropped."""

    word: str
    source: str
    start: float
    end: float
    next_start: float
    photos: tuple[str, ...]


def shifted(frame: np.ndarray, dx: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]),
                          borderMode=cv2.BORDER_REPLICATE)


def render(path: Path, words: Sequence[tuple[str, str, Sequence[Shot]]], room: np.ndarray,
           pace: float, seed: int = 0) -> tuple[Path, list[WordSpan], float]:
    """The .y4m of `words` ((word, source, one Shot per letter)) at `pace` letters a second;
    its word spans and length in seconds."""
    from y4m import write_y4m

    rng = np.random.default_rng(seed)
    # Keys: (picture, hand offset in px, how long it is shown before blending to the next).
    keys: list[tuple[np.ndarray, float, float]] = [(room, 0.0, LEAD_S - BLEND_S)]
    spans = []
    t = LEAD_S
    for word, source, shots in words:
        start = t
        offset = 0.0
        for i, shot in enumerate(shots):
            if i and word[i] == word[i - 1]:  # a double letter: slide, alternating sides
                offset += SLIDE * shot.hand * (1 if i % 2 else -1)
            else:
                offset = float(rng.uniform(-SHIFT, SHIFT)) * shot.hand
            keys.append((shot.frame, offset, 1.0 / pace - BLEND_S))
            t += 1.0 / pace
        keys.append((room, 0.0, PAUSE_S - BLEND_S))
        spans.append(WordSpan(word, source, start, t, t + PAUSE_S,
                              tuple(shot.path for shot in shots)))
        t += PAUSE_S
    total = t

    def frames():
        index = 0
        for k, (picture, offset, hold) in enumerate(keys):
            after, after_offset, _ = keys[(k + 1) % len(keys)]
            for _ in range(max(1, round(hold * VIDEO_FPS))):
                yield stamp(shifted(picture, offset), index)
                index += 1
            steps = max(1, round(BLEND_S * VIDEO_FPS))
            for s in range(steps):
                a = (s + 1) / (steps + 1)
                move = offset + a * (after_offset - offset)
                mixed = cv2.addWeighted(shifted(picture, move), 1 - a, shifted(after, move), a, 0)
                yield stamp(mixed, index)
                index += 1

    return write_y4m(path, frames(), VIDEO_FPS), spans, total


# --- the photos ------------------------------------------------------------------------------

def readable_photos(photos: Path, letters: set[str], workdir: Path, model_path: Path,
                    log=print) -> dict[tuple[str, str], list[Shot]]:
    """{(source, letter): [Shot, ...]}: held-out photos the page's locator finds a hand in and
    the model reads right (>= THRESHOLD) from what the page would send of them."""
    from rooms import as_sent, camera_frame, letter_photos, locate_images

    from webapp import splits
    from webapp.evaluation import predict_probs
    from webapp.handshape import FEATURES
    from webapp.letters import letter_to_class
    from webapp.preprocess import DEFAULT_CROP_FRACTION, crop_mode, preprocess
    from webapp.registry import load_model_file

    sources = sorted(splits.load().held_out)
    candidates = {f"{letter}/{path.name}": (source, letter, path)
                  for source in sources for letter in sorted(letters)
                  for path in letter_photos(photos, letter, [source], PER_SOURCE)}
    sent = {key: as_sent(camera_frame(path)) for key, (_, _, path) in candidates.items()}
    log(f"locating the hand in {len(sent)} held-out photos (the page's locator, headless)...")
    found = locate_images(sent, workdir)
    keys = [key for key in candidates if found[key].box is not None]
    loaded = load_model_file(model_path)
    size = int(loaded.metadata.get("input_size") or 28)
    crop = float(loaded.metadata.get("crop_fraction") or DEFAULT_CROP_FRACTION)
    hand_crop = crop_mode(loaded.metadata) == "hand"
    x = np.stack([preprocess(sent[k], crop, size, box=found[k].box if hand_crop else None)
                  for k in keys])
    shapes = np.stack([found[k].features() for k in keys]) if keys else np.zeros((0, FEATURES))
    probs = predict_probs(loaded.model, x, handshape=shapes)
    pool: dict[tuple[str, str], list[Shot]] = {}
    for key, p in zip(keys, probs, strict=True):
        source, letter, path = candidates[key]
        cls = letter_to_class(letter)
        if int(p.argmax()) == cls and p[cls] >= THRESHOLD:
            frame = camera_frame(path)
            scale = frame.shape[1] / 480  # the box is in the sent frame's pixels
            hand = max(found[key].box[2], found[key].box[3]) * scale
            pool.setdefault((source, letter), []).append(Shot(str(path), frame, hand))
    return pool


def assign(words: Sequence[str], pool: dict[tuple[str, str], list[Shot]],
           seed: int = 0) -> list[tuple[str, str, list[Shot]]]:
    """Each word signed by one source (taken in turn), with a different photo for each
    occurrence of a letter; a source that lacks readable photos for the word is skipped."""
    from webapp import splits

    sources = sorted(splits.load().held_out)
    rng = np.random.default_rng(seed)
    plan = []
    for n, word in enumerate(words):
        for k in range(len(sources)):
            source = sources[(n + k) % len(sources)]
            counts = {c: word.count(c) for c in set(word)}
            if all(len(pool.get((source, c), [])) >= m for c, m in counts.items()):
                picks = {c: list(rng.permutation(len(pool[(source, c)]))) for c in counts}
                plan.append((word, source, [pool[(source, c)][picks[c].pop()] for c in word]))
                break
        else:
            raise SystemExit(f"error: no held-out source has readable photos for every letter "
                             f"of {word} (doubles need two different photos)")
    return plan


# --- the live run ------------------------------------------------------------------------------

class Server:
    """The app on a threaded Werkzeug server (what `signlive serve` runs), recording what its
    inference service decodes together with each frame's stamped index."""

    def __init__(self, model: Path, instance: Path) -> None:
        from werkzeug.serving import make_server

        from webapp import create_app

        self.app = create_app({"SECRET_KEY": "bench", "MODELS_DIR": str(model.parent),
                               "ACTIVE_MODEL": model.stem, "CONFIDENCE_THRESHOLD": THRESHOLD,
                               "INSTANCE_PATH": str(instance)})
        self.inference = self.app.extensions["signlive"].inference
        self.marks: dict[tuple[str, int], int | None] = {}
        self.records: list[dict] = []
        self.recording = False
        submit = self.inference.submit

        def stamped_submit(client_id, frame_id, image, reply, **kwargs):
            if self.recording:
                self.marks[(client_id, frame_id)] = read_stamp(image)
            submit(client_id, frame_id, image, reply, **kwargs)

        self.inference.submit = stamped_submit  # this bench's own server: read the stamps
        self.inference.on_decode(self._record)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _record(self, decoded) -> None:
        if not self.recording:
            return
        mark = self.marks.pop((decoded.client_id, decoded.frame_id), None)
        probs = None if decoded.probs is None else [round(float(v), 5) for v in decoded.probs]
        self.records.append({"client": decoded.client_id, "t": decoded.t, "mark": mark,
                             "box": decoded.box, "landmarks": decoded.landmarks,
                             "probs": probs, "committed": list(decoded.step.committed)})

    def stop(self) -> None:
        self._server.shutdown()
        self.app.extensions["signlive"].close()


def play(pw, server: Server, video: Path, seconds: float, log=print) -> dict:
    """The live page on a camera playing `video`, recorded for `seconds` once its hand
    locator runs; the page's own figures beside the records."""
    browser = pw.chromium.launch(executable_path=CHROMIUM,
                                 args=[*ARGS, f"--use-file-for-fake-video-capture={video}"])
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/")
        page.wait_for_function("() => document.body.dataset.handLocator === 'on' && "
                               "document.getElementById('status').dataset.state === "
                               "'connected'", timeout=120_000)
        server.records.clear()
        server.marks.clear()
        server.recording = True
        sent0 = page.evaluate("() => window.signlive.client.framesSent")
        started = time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        server.recording = False
        sent = page.evaluate("() => window.signlive.client.framesSent") - sent0
        elapsed = time.monotonic() - started
        log(f"    {sent} frames sent in {elapsed:.0f} s ({sent / elapsed:.1f}/s)")
        return {"page_errors": errors, "frames_sent": sent, "seconds": elapsed}
    finally:
        browser.close()


# --- scoring -----------------------------------------------------------------------------------

def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def passes(records: list[dict]) -> list[list[dict]]:
    """The records cut where the looping video starts over (or the page reconnected)."""
    out: list[list[dict]] = []
    last_mark, last_client = None, None
    for record in records:
        mark = record["mark"]
        if mark is None:
            continue
        if (not out or record["client"] != last_client
                or (last_mark is not None and mark < last_mark - VIDEO_FPS)):
            out.append([])
        out[-1].append(record)
        last_mark, last_client = mark, record["client"]
    return out


def decode_stream(records: list[dict], settings, lexicon) -> list[dict]:
    """Both rules over the recorded answers: for each record, the letters each committed and
    the decoder's finished word with its suggestions."""
    from webapp.decoder import StreamDecoder

    out = []
    decoder, hold, client = None, None, None
    for record in records:
        if record["client"] != client:  # a reconnected page gets a fresh decoder
            decoder, hold, client = StreamDecoder(settings), HoldSpeller(), record["client"]
        probs = None if record["probs"] is None else np.asarray(record["probs"])
        step = decoder.update(record["t"], probs, record["box"])
        letter = None
        if probs is not None and probs.max() >= THRESHOLD:
            from webapp.letters import CLASS_LETTERS

            letter = CLASS_LETTERS[int(probs.argmax())]
        held = hold.update(letter, record["t"] * 1000.0)
        word = None
        if step.word:
            word = {"spelled": "".join(x.letter for x in step.word),
                    "suggestions": lexicon.suggest(step.word) if lexicon else []}
        out.append({"mark": record["mark"], "client": record["client"],
                    "decoder": "".join(step.committed), "hold": held or "", "word": word,
                    "live": "".join(record.get("committed", []))})
    return out


def score(decoded: list[dict], spans: list[WordSpan]) -> dict:
    """Per rule: letters right, word accuracy, false letters a minute with nobody signing,
    and (decoder) the intended word first / in the top 3 of the suggestions."""
    runs = passes(decoded)
    rows: dict[str, list] = {"decoder": [], "hold": [], "live": []}
    quiet_s, quiet = 0.0, {"decoder": 0, "hold": 0, "live": 0}
    top1 = top3 = 0
    words = []
    for span in spans:
        lo, hi = span.start - BLEND_S, span.end + LATE_S
        quiet_lo, quiet_hi = hi, span.next_start - BLEND_S
        run = next((r for r in runs if r[0]["mark"] / VIDEO_FPS <= lo
                    and r[-1]["mark"] / VIDEO_FPS >= quiet_hi), None)
        if run is None:
            raise SystemExit(f"error: the recording holds no whole pass of {span.word}")
        inside = [d for d in run if lo <= d["mark"] / VIDEO_FPS < hi]
        after = [d for d in run if quiet_lo <= d["mark"] / VIDEO_FPS < quiet_hi]
        quiet_s += quiet_hi - quiet_lo
        entry = {"word": span.word, "source": span.source}
        for rule in rows:
            text = "".join(d[rule] for d in inside)
            rows[rule].append((span.word, text))
            quiet[rule] += sum(len(d[rule]) for d in after)
            entry[rule] = text
        offered = next((d["word"] for d in inside + after if d["word"]), None)
        suggestions = offered["suggestions"] if offered else []
        entry["suggestions"] = suggestions
        top1 += bool(suggestions) and suggestions[0] == span.word
        top3 += span.word in suggestions
        words.append(entry)
    result = {"words": words, "suggest_top1": top1 / len(spans), "suggest_top3": top3 / len(spans)}
    for rule, pairs in rows.items():
        errors = sum(edit_distance(h, r) for r, h in pairs)
        letters = sum(len(r) for r, _ in pairs)
        result[rule] = {"letter_accuracy": 1 - errors / letters,
                        "word_accuracy": sum(h == r for r, h in pairs) / len(pairs),
                        "false_per_min": quiet[rule] / (quiet_s / 60.0)}
    return result


def report(results: dict[float, dict], log=print) -> list[list]:
    from webapp.benchmark import format_table

    rows = []
    for pace, res in sorted(results.items()):
        for rule, name in (("hold", "today's hold (500 ms)"), ("decoder", "stream decoder")):
            r = res[rule]
            rows.append([f"{pace:g}", f"{res.get('fps', float('nan')):.1f}", name,
                         f"{100 * r['letter_accuracy']:.1f}%", f"{100 * r['word_accuracy']:.0f}%",
                         f"{r['false_per_min']:.1f}",
                         f"{100 * res['suggest_top1']:.0f}%" if rule == "decoder" else "",
                         f"{100 * res['suggest_top3']:.0f}%" if rule == "decoder" else ""])
    log(format_table(rows, ["letters/s", "page fps", "rule", "letters right", "words right",
                            "false letters/min", "suggest 1st", "suggest top 3"]))
    for pace, res in sorted(results.items()):
        log(f"  {pace:g}/s: " + ", ".join(
            f"{w['word']}->{w['decoder'] or '-'}|{w['hold'] or '-'}" for w in res["words"]))
    return rows


def plot(results: dict[float, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paces = sorted(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for rule, name, color in (("hold", "today's hold rule", "#999999"),
                              ("decoder", "stream decoder", "#1f9e89")):
        ax.plot(paces, [100 * results[p][rule]["letter_accuracy"] for p in paces], "o-",
                color=color, label=f"{name}: letters")
        ax.plot(paces, [100 * results[p][rule]["word_accuracy"] for p in paces], "s--",
                color=color, alpha=0.7, label=f"{name}: words")
    ax.set_xlabel("pace (letters a second, no pause between letters)")
    ax.set_ylabel("right (%)")
    ax.set_ylim(0, 102)
    ax.set_xticks(paces)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Spelling held-out signers' words on the live page")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


# --- commands ----------------------------------------------------------------------------------

def decoder_settings(args):
    from webapp.decoder import DecoderSettings

    settings = DecoderSettings(confidence=THRESHOLD)
    overrides = {k: v for k, v in (("settle_ms", args.settle_ms), ("min_frames", args.min_frames),
                                   ("move_fraction", args.move_fraction),
                                   ("frame_floor", args.frame_floor)) if v is not None}
    return replace(settings, **overrides)


def replay(folder: Path, args) -> dict[float, dict]:
    from webapp.suggest import Lexicon

    runs = sorted(folder.glob("pace-*.json"))
    if not runs:
        raise SystemExit(f"error: {folder} holds no recordings (pace-*.json): run without "
                         "--replay first")
    lexicon = Lexicon.shared()
    lexicon.wait(60)
    settings = decoder_settings(args)
    results = {}
    for run in runs:
        saved = json.loads(run.read_text())
        spans = [WordSpan(**s) for s in saved["spans"]]
        res = score(decode_stream(saved["records"], settings, lexicon), spans)
        res["fps"] = saved["fps"]
        results[float(saved["pace"])] = res
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paces", default=",".join(f"{p:g}" for p in PACES),
                        help="letters a second, comma-separated (default 0.5,1,2,3)")
    parser.add_argument("--words", default=",".join(WORDS), help="comma-separated words")
    parser.add_argument("--model", help="a .keras file (default: models/default.keras)")
    parser.add_argument("--photos", help="photo folder (default ../shared/photos)")
    parser.add_argument("--out", default=str(OUT), help="where the recordings go")
    parser.add_argument("--replay", metavar="DIR", help="score recordings in DIR, no browser")
    parser.add_argument("--plot", action="store_true", help=f"write {PLOT.relative_to(ROOT)}")
    parser.add_argument("--seed", type=int, default=0)
    for name in ("settle-ms", "move-fraction", "frame-floor"):
        parser.add_argument(f"--{name}", type=float, help="a decoder setting, for --replay")
    parser.add_argument("--min-frames", type=int, help="a decoder setting, for --replay")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    try:
        decoder_settings(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.replay:
        results = replay(Path(args.replay), args)
        report(results)
        if args.plot:
            plot(results, PLOT)
        return 0

    try:
        paces = [float(p) for p in args.paces.split(",") if p.strip()]
    except ValueError:
        parser.error(f"--paces must be numbers, got {args.paces!r}")
    if not paces or not all(0.1 <= p <= 10 for p in paces):
        parser.error("--paces must be between 0.1 and 10 letters a second")
    words = [w.strip().upper() for w in args.words.split(",") if w.strip()]
    if not words or not all(w.isalpha() and w.isascii() and not set(w) & {"J", "Z"}
                            for w in words):
        parser.error("--words must be words of the 24 static letters (no J or Z)")
    from webapp import config

    photos = config.photos_dir(args.photos)
    if not photos.is_dir():
        parser.error(f"{photos}: no photo folder (../shared/photos or $SIGNLIVE_PHOTOS)")
    model = Path(args.model) if args.model else config.DEFAULT_MODELS_DIR / "default.keras"
    if model.suffix != ".keras" or not model.is_file():
        parser.error(f"{model}: no such .keras model file")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: `make browser-deps` installs it")

    from playwright.sync_api import sync_playwright
    from rooms import synthetic_room

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="signlive-spelling-"))
    started = time.monotonic()
    pool = readable_photos(photos, set("".join(words)), work / "locate", model)
    plan = assign(words, pool, args.seed)
    room = cv2.cvtColor(synthetic_room(), cv2.COLOR_GRAY2BGR)
    print(f"spelling rate: model {model}, {len(words)} words "
          f"({sum(map(len, words))} letters), paces {paces}, prepared in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    server = Server(model, work / "instance")
    failed = False
    try:
        with sync_playwright() as pw:
            for pace in paces:
                video, spans, total = render(work / f"pace-{pace:g}.y4m", plan, room, pace,
                                             args.seed)
                longest = max(s.next_start - s.start for s in spans)
                print(f"  {pace:g} letters/s: a {total:.0f} s video", flush=True)
                seen = play(pw, server, video, total + longest + 3.0)
                video.unlink()
                failed |= bool(seen["page_errors"])
                (out / f"pace-{pace:g}.json").write_text(json.dumps({
                    "pace": pace, "total": total, "fps": seen["frames_sent"] / seen["seconds"],
                    "spans": [asdict(s) for s in spans], "model": str(model),
                    "page_errors": seen["page_errors"], "records": server.records}))
    finally:
        server.stop()
    results = replay(out, args)
    results = {p: r for p, r in results.items() if p in paces}
    for pace, res in sorted(results.items()):  # the replay must be what the page spelled
        differ = [w["word"] for w in res["words"] if w["live"] != w["decoder"]]
        if differ:
            failed = True
            print(f"FAIL: at {pace:g}/s the replayed decoder differs from the live one on "
                  f"{', '.join(differ)}")
    print(f"\nrecorded in {out} ({time.monotonic() - started:.0f} s in all); replay: "
          f"python -m bench.spelling_rate --replay {out}\n")
    report(results)
    if args.plot:
        plot(results, PLOT)
    if failed:
        print("FAIL: the page reported errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
