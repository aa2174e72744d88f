"""Spelling rate: words signed by unseen people, played to the live page at 0.5-3 letters/s.

    python -m bench.spelling_rate [--paces 0.5,1,2,3] [--words HELLO,BOOK,...] [--out DIR]
    python -m bench.spelling_rate --replay DIR [--set settle_ms=200 ...]   # seconds, no browser
    python -m bench.spelling_rate --page overlap=0 --page overlap=1   # two page settings, one run

What it plays: each word is signed by one held-out source of the photo split (photos-v1:
never trained on), a different source for each word in turn. Each letter is a photo of that
source shown whole to a 640x480 fake camera (person, room and hand, in color); between two
letters the picture blends into the next over 150 ms while the hand shifts a little (what a
camera sees of a hand moving between letters); a double letter is two different photos of
the letter, the second of a hand the first one's size, with a slide of 0.6 hand sizes between
them that stays in the camera's view; no pause between letters. After each word the hand drops
for 1.5 s (a room without anyone). The photos are those the page's own locator finds a hand in
and the served model reads right when the photo is held still (`signlive locate`, then the
model on what the page sends): the bench measures the spelling of letters the recognizer can
read, not the recognizer (docs/RESULTS.md has that). Each frame carries its index in a strip
of black and white squares in the top-left corner, so the server side knows which moment of
the video every answer belongs to.

What it measures, per pace, in ONE browser run for both rules: the live page (headless
Chromium, the shipped model on an in-process server with the real /live namespace) streams
the video; every answered frame is recorded as the server saw it (time, box, landmarks, the
24 probabilities, the letters the stream decoder committed). The decoder's commits are what
the page spelled; today's hold rule (bench/hold_rule.py, the page's old rule) is run on the
same answers. Scored per word by edit distance: letter accuracy (1 - CER), word accuracy,
false letters a minute while nobody signs (the drops between words), and for the decoder the
intended word first among the suggestions and in the top 3. The recordings land in --out
(default bench/results/spelling-rate), and --replay reruns both rules over them in seconds,
with the decoder's settings overridable (--set NAME=VALUE), for tuning; tune on recordings of
the split's validation sources (--sources validation), never on the held-out ones; the
browser run stays the acceptance check. Writes docs/img/spelling-rate.png with --plot.

--page NAME=VALUE[,NAME=VALUE] (repeatable) plays every pace's video once per page variant, one
after the other on the same server and the same scenes: the page settings (webapp/serve/pages.py
PAGE_SETTINGS, e.g. overlap, max_side) compared in one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np

from bench.hold_rule import HoldSpeller

# The scenes come from the browser tests' helpers (as in bench.empty_room).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # serverkit
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))
from chromium import CHROMIUM, chromium, open_page  # noqa: E402
from signing import (  # noqa: E402
    BLEND_S,
    PAUSE_S,
    THRESHOLD,
    VIDEO_FPS,
    SceneError,
    WordSpan,
    assign,
    read_stamp,
    readable_photos,
    render,
)

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("HELLO", "BOOK", "COFFEE", "LLAMA", "APPLE", "GOOD", "SEE", "WORLD", "CLAW", "FAX")
PACES = (0.5, 1.0, 2.0, 3.0)
LATE_S = 0.3  # a word's last letter may commit this long after its slot
OUT = ROOT / "bench" / "results" / "spelling-rate"
PLOT = ROOT / "docs" / "img" / "spelling-rate.png"


# --- the live run ------------------------------------------------------------------------------

class Server:
    """The app on a threaded Werkzeug server (what `signlive serve` runs), recording what its
    inference service decodes together with each frame's stamped index."""

    def __init__(self, model: Path, instance: Path) -> None:
        from serverkit import LiveServer

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
        self._live = LiveServer(self.app)
        self.url = self._live.url

    def _record(self, decoded) -> None:
        if not self.recording:
            return
        mark = self.marks.pop((decoded.client_id, decoded.frame_id), None)
        probs = None if decoded.probs is None else [round(float(v), 5) for v in decoded.probs]
        self.records.append({"client": decoded.client_id, "t": decoded.t, "mark": mark,
                             "box": decoded.box, "landmarks": decoded.landmarks,
                             "size": list(decoded.size), "probs": probs,
                             "committed": list(decoded.step.committed),
                             "retract": decoded.step.retract})

    def stop(self) -> None:
        self._live.stop()
        self.app.extensions["signlive"].close()


def covered(records: list[dict], spans: list[WordSpan]) -> bool:
    """Whether the records hold a whole pass of every word (the loop may play slower than
    real time on a busy machine)."""
    runs = passes(records)
    return all(any(r[0]["mark"] / VIDEO_FPS <= s.start - BLEND_S
                   and r[-1]["mark"] / VIDEO_FPS >= s.end + LATE_S + PAUSE_S / 2 for r in runs)
               for s in spans)


def play(pw, server: Server, video: Path, spans: list[WordSpan], total: float,
         log=print) -> dict:
    """The live page on a camera playing `video`, recorded from when its hand locator runs
    until every word has been seen whole (at most three loops); the page's own figures."""
    with chromium(pw, video) as browser:
        page = open_page(browser, server.url + "/")
        page.wait_for_function("() => document.body.dataset.handLocator === 'on' && "
                               "document.getElementById('status').dataset.state === "
                               "'connected'", timeout=120_000)
        server.records.clear()
        server.marks.clear()
        server.recording = True
        sent0 = page.evaluate("() => window.signlive.client.framesSent")
        started = time.monotonic()
        page.wait_for_timeout(total * 1000)
        while (not covered(list(server.records), spans)
               and time.monotonic() - started < 3 * total):
            page.wait_for_timeout(1000)
        server.recording = False
        sent = page.evaluate("() => window.signlive.client.framesSent") - sent0
        elapsed = time.monotonic() - started
        log(f"    {sent} frames sent in {elapsed:.0f} s ({sent / elapsed:.1f}/s)")
        return {"page_errors": page.errors, "frames_sent": sent, "seconds": elapsed}


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


BACK = "\b"  # a letter taken back (a motion letter's handshape), in the rules' text


def decode_stream(records: list[dict], settings, lexicon, motion=None) -> list[dict]:
    """The rules over the recorded answers: for each record, the letters each committed (a
    BACK for each one taken back) and the decoder's finished word with its suggestions. With
    `motion` (a loaded motion reader), "motion" is the decoder with J and Z read from the
    recorded landmarks, as the live server reads them."""
    from webapp.model.handshape import Hand
    from webapp.model.letters import CLASS_LETTERS
    from webapp.serve.decoder import StreamDecoder
    from webapp.serve.motionreader import MotionReader

    out = []
    reader = MotionReader(motion) if motion is not None else None
    decoder, hold, client = None, None, None
    for record in records:
        if record["client"] != client:  # a reconnected page gets a fresh decoder
            decoder, hold, client = StreamDecoder(settings), HoldSpeller(), record["client"]
            with_motion = StreamDecoder(settings)
        probs = None if record["probs"] is None else np.asarray(record["probs"])
        step = decoder.update(record["t"], probs, record["box"])
        letter = None
        if probs is not None and probs.max() >= THRESHOLD:
            letter = CLASS_LETTERS[int(probs.argmax())]
        held = hold.update(letter, record["t"] * 1000.0)
        word = None
        if step.word:
            word = {"spelled": "".join(x.letter for x in step.word),
                    "suggestions": lexicon.suggest(step.word) if lexicon else []}
        row = {"mark": record["mark"], "client": record["client"],
               "decoder": "".join(step.committed), "hold": held or "", "word": word,
               "live": BACK * record.get("retract", 0) + "".join(record.get("committed", []))}
        if reader is not None:
            hand = (Hand.parse(record["landmarks"]) if probs is not None
                    and record.get("landmarks") else None)
            found = reader.observe(record["client"], record["t"],
                                   tuple(record.get("size") or (0, 0)), hand)
            moved = with_motion.update(record["t"], probs, record["box"], found)
            row["motion"] = BACK * moved.retract + "".join(moved.committed)
        out.append(row)
    return out


def spelled(parts: list[str]) -> str:
    """The text a run of the rules' outputs spells (BACK takes the last letter back)."""
    text = ""
    for part in parts:
        for char in part:
            text = text[:-1] if char == BACK else text + char
    return text


FRAME_KINDS = ("hand, same letter", "hand, new letter", "no hand")


def frame_times(records: list[dict]) -> dict[str, tuple[int, float]]:
    """What sets the page's pace: the time between two answered frames (median ms, and how
    many) by what the second showed: the hand read as the same letter as the frame before
    (MediaPipe tracking it), the hand read as a new letter (in these scenes, a new photo: the
    palm detector looks again), no hand (two looks: the padded second one)."""
    times: dict[str, list[float]] = {kind: [] for kind in FRAME_KINDS}
    for a, b in zip(records, records[1:], strict=False):
        dt = (b["t"] - a["t"]) * 1000.0
        if a["client"] != b["client"] or dt > 1000.0:  # a reconnect, the clip looping
            continue
        if b["probs"] is None:
            kind = "no hand"
        elif a["probs"] is not None and np.argmax(a["probs"]) == np.argmax(b["probs"]):
            kind = "hand, same letter"
        else:
            kind = "hand, new letter"
        times[kind].append(dt)
    return {kind: (len(v), float(np.median(v)) if v else float("nan"))
            for kind, v in times.items()}


def score(decoded: list[dict], spans: list[WordSpan]) -> dict:
    """Per rule: letters right, word accuracy, false letters a minute with nobody signing,
    and (decoder) the intended word first / in the top 3 of the suggestions."""
    runs = passes(decoded)
    rules = [rule for rule in ("decoder", "hold", "live", "motion") if rule in decoded[0]]
    rows: dict[str, list] = {rule: [] for rule in rules}
    quiet_s, quiet = 0.0, dict.fromkeys(rules, 0)
    top1 = top3 = 0
    words = []
    for span in spans:
        lo, hi = span.start - BLEND_S, span.end + LATE_S
        quiet_lo, quiet_hi = hi, span.next_start - BLEND_S
        run = next((r for r in runs if covered(r, [span])), None)
        if run is None:
            raise SystemExit(f"error: the recording holds no whole pass of {span.word}")
        quiet_hi = min(quiet_hi, run[-1]["mark"] / VIDEO_FPS)  # the loop's last frames
        inside = [d for d in run if lo <= d["mark"] / VIDEO_FPS < hi]
        after = [d for d in run if quiet_lo <= d["mark"] / VIDEO_FPS < quiet_hi]
        quiet_s += quiet_hi - quiet_lo
        entry = {"word": span.word, "source": span.source}
        for rule in rows:
            text = spelled([d[rule] for d in inside])
            rows[rule].append((span.word, text))
            quiet[rule] += sum(len(d[rule].replace(BACK, "")) for d in after)
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


def report(results: dict[tuple[float, str], dict], log=print) -> list[list]:
    """The tables, one row per pace and page variant (results keyed by (pace, variant))."""
    from webapp.serve.benchmark import format_table

    rows = []
    for (pace, page), res in sorted(results.items()):
        for rule, name in (("hold", "today's hold (500 ms)"), ("decoder", "stream decoder"),
                           ("motion", "decoder + motion reader")):
            if rule not in res:
                continue
            r = res[rule]
            rows.append([f"{pace:g}", page or "-", f"{res.get('fps', float('nan')):.1f}", name,
                         f"{100 * r['letter_accuracy']:.1f}%", f"{100 * r['word_accuracy']:.0f}%",
                         f"{r['false_per_min']:.1f}",
                         f"{100 * res['suggest_top1']:.0f}%" if rule == "decoder" else "",
                         f"{100 * res['suggest_top3']:.0f}%" if rule == "decoder" else ""])
    log(format_table(rows, ["letters/s", "page", "page fps", "rule", "letters right",
                            "words right", "false letters/min", "suggest 1st", "suggest top 3"]))
    log("\nthe page's pace: median ms between two answered frames (frames), by what the "
        "second showed")
    log(format_table([[f"{pace:g}", page or "-", f"{res['fps']:.1f}"]
                      + [f"{res['frame_times'][k][1]:.0f} ({res['frame_times'][k][0]})"
                         for k in FRAME_KINDS]
                      for (pace, page), res in sorted(results.items())],
                     ["letters/s", "page", "page fps", *FRAME_KINDS]))
    for (pace, page), res in sorted(results.items()):
        log(f"  {pace:g}/s {page}: " + ", ".join(
            f"{w['word']}->{w['decoder'] or '-'}|{w['hold'] or '-'}|{w.get('motion') or '-'}"
            for w in res["words"]))
    return rows


def plot(results: dict[tuple[float, str], dict], path: Path) -> None:
    """Letters and words right against pace: today's hold rule (on the first page variant's
    answers) and the stream decoder on each page variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = sorted({page for _, page in results})
    paces = sorted({pace for pace, _ in results})
    lines = [("hold", pages[0], "today's hold rule", "#999999")]
    colors = ("#1f9e89", "#3b528b", "#d95f02", "#7570b3")
    lines += [("decoder", page, "stream decoder" + (f" ({page})" if page else ""),
               colors[n % len(colors)]) for n, page in enumerate(pages)]
    fig, ax = plt.subplots(figsize=(8.4, 4.0), dpi=120)
    for rule, page, name, color in lines:
        shown = [pace for pace in paces if (pace, page) in results]
        ax.plot(shown, [100 * results[(p, page)][rule]["letter_accuracy"] for p in shown], "o-",
                color=color, label=f"{name}: letters")
        ax.plot(shown, [100 * results[(p, page)][rule]["word_accuracy"] for p in shown], "s--",
                color=color, alpha=0.7, label=f"{name}: words")
    ax.set_xlabel("pace (letters a second, no pause between letters)")
    ax.set_ylabel("right (%)")
    ax.set_ylim(0, 102)
    ax.set_xticks(paces)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_title("Spelling held-out signers' words on the live page")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


# --- commands ----------------------------------------------------------------------------------

def scene_sha256(plan, photos: Path) -> str:
    """sha256 of the photos the scenes show, as `signlive evaluate` hashes a photo set."""
    from webapp.files import file_sha256, photo_line

    digest = hashlib.sha256()
    for path in sorted({Path(shot.path) for _, _, shots in plan for shot in shots}):
        relative = path.resolve().relative_to(photos.resolve()).as_posix()
        digest.update(photo_line(relative, file_sha256(path)))
    return digest.hexdigest()


def decoder_settings(args):
    """The live decoder's settings, with --set NAME=VALUE overrides (for --replay tuning)."""
    from dataclasses import fields

    from webapp.serve.decoder import DecoderSettings

    kinds = {f.name: f.type for f in fields(DecoderSettings)}
    overrides = {}
    for item in args.set or []:
        name, _, value = item.partition("=")
        if name not in kinds:
            raise ValueError(f"--set {item}: no decoder setting {name!r} (one of "
                             f"{', '.join(kinds)})")
        try:
            overrides[name] = int(value) if kinds[name] in (int, "int") else float(value)
        except ValueError:
            raise ValueError(f"--set {item}: {value!r} is not a number") from None
    return replace(DecoderSettings(confidence=THRESHOLD), **overrides)


def page_variants(args) -> list[tuple[str, dict]]:
    """(label, app config overrides) per --page NAME=VALUE[,NAME=VALUE]; one unlabelled variant
    (the app's own settings) without --page."""
    from webapp.serve.pages import PAGE_SETTINGS

    variants = []
    for item in args.page or []:
        overrides = {}
        for pair in item.split(","):
            name, _, value = pair.strip().partition("=")
            if name not in PAGE_SETTINGS:
                raise ValueError(f"--page {item}: no page setting {name!r} (one of "
                                 f"{', '.join(PAGE_SETTINGS)})")
            try:
                overrides[name.upper()] = int(value)
            except ValueError:
                raise ValueError(f"--page {item}: {value!r} is not a whole number") from None
        variants.append((item.replace(" ", ""), overrides))
    if len({label for label, _ in variants}) != len(variants):
        raise ValueError("--page: the same variant twice")
    return variants or [("", {})]


def replay(folder: Path, args) -> dict[tuple[float, str], dict]:
    from webapp.serve.suggest import Lexicon

    runs = sorted(folder.glob("pace-*.json"))
    if not runs:
        raise SystemExit(f"error: {folder} holds no recordings (pace-*.json): run without "
                         "--replay first")
    from webapp.config import DEFAULT_MODELS_DIR
    from webapp.model.registry import load_motion_file

    lexicon = Lexicon.shared()
    lexicon.wait(60)
    settings = decoder_settings(args)
    # The motion reader the live server runs beside the decoder (J, Z): the "motion" rule.
    motion = load_motion_file(args.motion or DEFAULT_MODELS_DIR / "motion.keras")
    results = {}
    for run in runs:
        saved = json.loads(run.read_text())
        spans = [WordSpan(**s) for s in saved["spans"]]
        res = score(decode_stream(saved["records"], settings, lexicon, motion), spans)
        res["fps"] = saved["fps"]
        res["frame_times"] = frame_times(saved["records"])
        results[(float(saved["pace"]), saved.get("page_label", ""))] = res
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paces", default=",".join(f"{p:g}" for p in PACES),
                        help="letters a second, comma-separated (default 0.5,1,2,3)")
    parser.add_argument("--words", default=",".join(WORDS), help="comma-separated words")
    parser.add_argument("--model", help="a .keras file (default: models/default.keras)")
    parser.add_argument("--photos", help="photo folder (default ../shared/photos)")
    parser.add_argument("--out", default=str(OUT), help="where the recordings go")
    parser.add_argument("--sources", choices=("held_out", "validation"), default="held_out",
                        help="whose photos sign: the split's held-out sources (the figures in "
                        "docs/) or its validation sources (for tuning the decoder)")
    parser.add_argument("--replay", metavar="DIR", help="score recordings in DIR, no browser")
    parser.add_argument("--plot", action="store_true", help=f"write {PLOT.relative_to(ROOT)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motion", metavar="FILE",
                        help="the motion reader for --replay's \"motion\" rule (default: "
                             "models/motion.keras)")
    parser.add_argument("--page", action="append", metavar="NAME=VALUE[,NAME=VALUE]",
                        help="a page variant (webapp/serve/pages.py PAGE_SETTINGS), e.g. "
                        "--page overlap=0 --page overlap=1: each pace is played once per "
                        "variant; repeatable")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a decoder setting for --replay (webapp/decoder.DecoderSettings), "
                        "e.g. --set settle_ms=200; repeatable")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    try:
        decoder_settings(args)
        variants = page_variants(args)
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
    from webapp.train import splits

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
    try:
        split = splits.load()
        sources = split.held_out if args.sources == "held_out" else split.validation
        pool = readable_photos(photos, set("".join(words)), work / "locate", model,
                               sources=sorted(sources))
    except SceneError as exc:
        parser.error(str(exc))
    plan = []
    for n, word in enumerate(words):  # a word no source signs readably is left out (said)
        try:
            plan.extend(assign([word], pool, args.seed + n, first=n))
        except SceneError as exc:
            print(f"note: {word} left out: {exc}")
    if not plan:
        parser.error("no word can be signed with these photos")
    room = cv2.cvtColor(synthetic_room(), cv2.COLOR_GRAY2BGR)
    words = [word for word, _, _ in plan]
    print(f"spelling rate: model {model}, {len(words)} words "
          f"({sum(map(len, words))} letters), paces {paces}, prepared in "
          f"{time.monotonic() - started:.0f} s; photos sha256 {scene_sha256(plan, photos)}",
          flush=True)
    server = Server(model, work / "instance")
    defaults = {key: server.app.config[key] for _, overrides in variants for key in overrides}
    failed = False
    try:
        with sync_playwright() as pw:
            for pace in paces:
                video, spans, total = render(work / f"pace-{pace:g}.y4m", plan, room, pace,
                                             args.seed)
                print(f"  {pace:g} letters/s: a {total:.0f} s video", flush=True)
                for label, overrides in variants:
                    if label:
                        print(f"    page {label}", flush=True)
                    server.app.config.update(defaults | overrides)  # read at each page load
                    seen = play(pw, server, video, spans, total)
                    failed |= bool(seen["page_errors"])
                    name = f"pace-{pace:g}" + (f"-{label.replace('=', '')}" if label else "")
                    (out / f"{name}.json").write_text(json.dumps({
                        "pace": pace, "page_label": label, "page": overrides, "total": total,
                        "fps": seen["frames_sent"] / seen["seconds"],
                        "spans": [asdict(s) for s in spans], "model": str(model),
                        "sources": args.sources,
                        "page_errors": seen["page_errors"], "records": server.records}))
                video.unlink()
    finally:
        server.stop()
    results = replay(out, args)
    played = {(pace, label) for pace in paces for label, _ in variants}
    results = {key: r for key, r in results.items() if key in played}
    for (pace, label), res in sorted(results.items()):  # the replay must be what was spelled
        differ = [w["word"] for w in res["words"] if w["live"] != w["motion"]]
        if differ:
            failed = True
            print(f"FAIL: at {pace:g}/s {label} the replayed decoder differs from the live "
                  f"one on {', '.join(differ)}")
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
