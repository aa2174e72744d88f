"""Today's-rule baseline for bench/spelling_rate.py: the fixed hold the page used before the
stream decoder, ported line for line from static/js/spelling.js as of commit e1a5c7e.

- a letter that stays the top prediction (`letter`: the model's top letter at >= the
  confidence threshold, null otherwise) for stable_ms is appended once;
- the same letter is appended again only after the prediction has been something else for
  at least rearm_ms (so a double letter needs the hand to leave or change in between);
- a gap in the prediction stream longer than max_gap_ms restarts the stable stretch.

Kept only to measure the new decoder against in the same run; the product does not use it.
"""

from __future__ import annotations


class HoldSpeller:
    def __init__(self, stable_ms: float = 500.0, rearm_ms: float = 150.0,
                 max_gap_ms: float = 1500.0) -> None:
        self.stable_ms = stable_ms
        self.rearm_ms = rearm_ms
        self.max_gap_ms = max_gap_ms
        self.last_appended: str | None = None
        self.candidate: str | None = None
        self.candidate_since = 0.0
        self.away_since: float | None = None
        self.last_update: float | None = None

    def update(self, letter: str | None, now_ms: float) -> str | None:
        """One prediction (a letter, or None for 'no sign') at now_ms; the letter appended."""
        value = letter or None
        if self.last_update is not None and now_ms - self.last_update > self.max_gap_ms:
            self.candidate = None
        self.last_update = now_ms
        if self.last_appended is not None:
            if value == self.last_appended:
                self.away_since = None
            else:
                if self.away_since is None:
                    self.away_since = now_ms
                if now_ms - self.away_since >= self.rearm_ms:
                    self.last_appended = None
                    self.away_since = None
        if value != self.candidate:
            self.candidate = value
            self.candidate_since = now_ms
        if (value is not None and value != self.last_appended
                and now_ms - self.candidate_since >= self.stable_ms):
            self.last_appended = value
            self.away_since = None
            return value
        return None
