"""Word suggestions for a spelled word, weighed with what the decoder saw of each letter.

Why not a plain spelling corrector: the committed string throws away what the recognizer
knew. "HELO" read with L at 0.9 and the O at 0.5 (R at 0.4) is better HELLO than HERO, and a
double letter lost in a fast transition is a likelier mistake than any other. So candidates
come from the word list by edit distance (SymSpell, distance 2), and each is scored by how
well it explains the letters' probabilities (an alignment: a letter read as the word's letter
costs -log p; a letter of the word never committed, a committed letter the word lacks cost a
fixed penalty, a lost double less) plus how common it is.

The word list is symspellpy's English frequency dictionary (82,765 words, MIT, shipped inside
the package: nothing is downloaded). Building its index takes about 2 s and 100 MB, so it is
built once per process, in the background (`Lexicon.shared().start()`); until then there are
no suggestions. Suggestions are only ever offered: the page replaces a word only when the
user picks one (names are what people fingerspell most, and no word list knows them).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from importlib import resources

import numpy as np

from webapp.model.letters import CLASS_LETTERS
from webapp.serve.decoder import Letter

log = logging.getLogger("signlive.suggest")

MAX_SUGGESTIONS = 3
MAX_EDIT_DISTANCE = 2
FLOOR = 1e-4  # the least probability a letter is given (a model that is sure is never certain)
MISSED_COST = 2.5  # a letter of the word the decoder never committed (about p = 0.08)
MISSED_DOUBLE_COST = 1.0  # ... when it repeats the letter before it (a double lost)
EXTRA_COST = 3.0  # a committed letter the word does not have
FREQUENCY_WEIGHT = 0.3  # log word frequency against the letters' log probabilities
_INDEX = {letter: i for i, letter in enumerate(CLASS_LETTERS)}
DICTIONARY = ("symspellpy", "frequency_dictionary_en_82_765.txt")


def alignment_cost(word: str, letters: Sequence[Letter]) -> float:
    """The cheapest way `word` (upper case) explains the committed letters and their
    probabilities: -log p per matched letter, penalties for letters missed or extra."""
    n, m = len(letters), len(word)
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i, j]
            if not math.isfinite(here):
                continue
            if j < m:  # the word's letter j was never committed
                missed = MISSED_DOUBLE_COST if j > 0 and word[j] == word[j - 1] else MISSED_COST
                cost[i, j + 1] = min(cost[i, j + 1], here + missed)
            if i < n:  # committed letter i is not in the word
                cost[i + 1, j] = min(cost[i + 1, j], here + EXTRA_COST)
            if i < n and j < m:
                index = _INDEX.get(word[j])  # J and Z: only the motion reader reads them
                p = (float(letters[i].probs[index]) if index is not None
                     else float(letters[i].letter == word[j]))
                cost[i + 1, j + 1] = min(cost[i + 1, j + 1], here - math.log(max(p, FLOOR)))
    return float(cost[n, m])


class Lexicon:
    """The word list and its SymSpell index; `suggest()` is thread-safe once ready."""

    _shared: Lexicon | None = None
    _shared_lock = threading.Lock()

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        """`counts` ({WORD: frequency}) for a small list (tests); None: the shipped dictionary,
        built by start()/wait()."""
        self._ready = threading.Event()
        self._failed: str | None = None
        self._thread: threading.Thread | None = None
        self._counts: dict[str, int] = {}
        self._symspell = None
        if counts is not None:
            self._build(counts)

    @classmethod
    def shared(cls) -> Lexicon:
        """The process's one lexicon over the shipped dictionary (built once, in the
        background, on first start())."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._failed is None

    def start(self) -> Lexicon:
        """Build the index in a background thread (once); returns self."""
        with self._shared_lock:
            if self._thread is None and not self._ready.is_set():
                self._thread = threading.Thread(target=self._load, name="signlive-lexicon",
                                                daemon=True)
                self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Start if needed and wait until ready; whether it is."""
        self.start()
        self._ready.wait(timeout)
        return self.ready

    def _load(self) -> None:
        try:
            package, name = DICTIONARY
            text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
            counts: dict[str, int] = {}
            for line in text.splitlines():
                word, _, count = line.partition(" ")
                if word.isascii() and word.isalpha() and count.strip().isdigit():
                    counts[word.upper()] = int(count)
            self._build(counts)
        except Exception as exc:  # a broken install: no suggestions, spelling goes on
            self._failed = f"{type(exc).__name__}: {exc}"
            log.error("word suggestions are off: the word list cannot be loaded (%s)",
                      self._failed)
            self._ready.set()

    def _build(self, counts: dict[str, int]) -> None:
        from symspellpy import SymSpell

        symspell = SymSpell(max_dictionary_edit_distance=MAX_EDIT_DISTANCE, prefix_length=7)
        for word, count in counts.items():
            if word.isalpha() and count > 0:
                symspell.create_dictionary_entry(word, count)
        self._counts = {w: c for w, c in counts.items() if w.isalpha() and c > 0}
        self._top = max(self._counts.values(), default=1)
        self._symspell = symspell
        self._ready.set()

    def __contains__(self, word: str) -> bool:
        return word.upper() in self._counts

    def candidates(self, spelled: str) -> set[str]:
        """Words within MAX_EDIT_DISTANCE of the spelled string (and itself, if a word)."""
        from symspellpy import Verbosity

        found = {item.term for item in self._symspell.lookup(
            spelled, Verbosity.ALL, MAX_EDIT_DISTANCE, transfer_casing=False)}
        if spelled in self._counts:
            found.add(spelled)
        return found

    def suggest(self, letters: Sequence[Letter], k: int = MAX_SUGGESTIONS) -> list[str]:
        """Up to k words for the committed letters, best first (empty until ready)."""
        if not self.ready or not letters:
            return []
        spelled = "".join(item.letter for item in letters)
        scored = []
        for word in self.candidates(spelled):
            score = (-alignment_cost(word, letters)
                     + FREQUENCY_WEIGHT * math.log(self._counts[word] / self._top))
            scored.append((-score, word))
        return [word for _, word in sorted(scored)[:k]]
