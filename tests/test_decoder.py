"""The stream decoder (webapp/serve/decoder.py) on streams made here: letters held and moved
between at several frame rates, double letters, flicker, drift, no hand, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.model.letters import NUM_CLASSES, letter_to_class
from webapp.serve.decoder import DecoderSettings, StreamDecoder

HAND = 100.0  # the hand box's side, pixels


def probs(letter: str | None, p: float = 0.9, other: str | None = None) -> np.ndarray:
    """A model's answer: `letter` at p, the rest spread (or given to `other`)."""
    v = np.full(NUM_CLASSES, (1 - p) / (NUM_CLASSES - 1))
    if other is not None:
        v[:] = 0.0
        v[letter_to_class(other)] = 1 - p
    if letter is not None:
        v[letter_to_class(letter)] = p
    return v


def box(x: float, y: float = 200.0) -> tuple[float, float, float, float]:
    return (x - HAND / 2, y - HAND / 2, HAND, HAND)


def signed(word: str, *, fps: float, rate: float, transition_s: float = 0.15,
           double_slide: float = 0.6, seed: int = 0, jitter: float = 2.0):
    """(t, probs, box) frames of `word` at `rate` letters a second, sampled at `fps`: each
    letter held still (a little locator jitter), then a transition to the next, in which the
    picture blends (the model unsure, between the two letters) while the hand shifts; between
    the two holds of a double letter the hand slides `double_slide` of its size."""
    rng = np.random.default_rng(seed)
    per_letter = 1.0 / rate
    xs = [300.0]
    for prev, cur in zip(word, word[1:], strict=False):
        step = double_slide * HAND if prev == cur else rng.uniform(-0.15, 0.15) * HAND
        xs.append(xs[-1] + step)
    total = per_letter * len(word)
    frames = []
    for t in np.arange(0.0, total, 1.0 / fps):
        i = min(int(t // per_letter), len(word) - 1)
        into = t - i * per_letter
        hold_end = per_letter - transition_s
        if into < hold_end or i == len(word) - 1:
            x = xs[i]
            p = probs(word[i], 0.9)
        else:  # the transition to the next letter: a blend and a shift
            a = (into - hold_end) / transition_s
            x = xs[i] + a * (xs[i + 1] - xs[i])
            p = probs(word[i], 0.5 * (1 - a) + 0.05, other=word[i + 1]) if word[i] != word[i + 1] \
                else probs(word[i], 0.4)
        frames.append((float(t), p, box(x + rng.normal(0, jitter), 200 + rng.normal(0, jitter))))
    return frames


def decode(frames, settings: DecoderSettings | None = None, tail_no_hand_s: float = 1.0,
           fps: float = 10.0) -> tuple[str, list[str]]:
    """(committed text, finished words) for a stream, with the hand dropped at the end."""
    decoder = StreamDecoder(settings)
    text, words = [], []
    t = 0.0
    for t, p, b in frames:
        text.extend(decoder.update(t, p, b).committed)
    for k in range(1, int(tail_no_hand_s * fps) + 1):
        step = decoder.update(t + k / fps, None)
        if step.word:
            words.append("".join(item.letter for item in step.word))
    return "".join(text), words


@pytest.mark.parametrize("fps", [5, 8, 15, 30])
@pytest.mark.parametrize("rate", [1.0, 2.0])
def test_words_with_double_letters_at_several_paces_and_frame_rates(fps, rate):
    for word in ("HELLO", "BOOK", "COFFEE", "LLAMA", "WORLD"):
        text, words = decode(signed(word, fps=fps, rate=rate), fps=fps)
        assert text == word, (word, fps, rate)
        assert words == [word]


def test_three_frames_a_second_at_one_letter_a_second():
    text, _ = decode(signed("HELLO", fps=3, rate=1.0, transition_s=0.2), fps=3)
    assert text == "HELLO"


def test_transitions_commit_nothing():
    """Blurred frames between two letters read as a third letter for a moment (and with the
    hand moving) never commit it."""
    decoder = StreamDecoder()
    committed = []
    t = 0.0
    for letter, x, n in (("A", 300, 8), ("X", 320, 1), ("X", 340, 1), ("S", 360, 8)):
        for _ in range(n):
            committed.extend(decoder.update(t, probs(letter, 0.9 if letter != "X" else 0.7),
                                            box(x)).committed)
            t += 1 / 15
    assert "".join(committed) == "AS"


def test_a_letter_first_seen_mid_shift_commits_at_a_few_frames_a_second():
    """At 4 fps (the page finding each new hand afresh) a letter may get two frames, the first
    while the hand is still shifting from the letter before: it commits; the moving hand only
    guards a repeat of the letter committed last."""
    def at_4_fps(frames):
        return decode([(k / 4, probs(letter, 0.95), box(x))
                       for k, (letter, x) in enumerate(frames)])[0]

    assert at_4_fps([("C", 300), ("C", 300), ("O", 340), ("O", 380), ("F", 380),
                     ("F", 380)]) == "COF"
    # The same shift between two holds of one letter is what makes it a double, not more.
    assert at_4_fps([("O", 300), ("O", 300), ("O", 340), ("O", 380), ("O", 380),
                     ("O", 381)]) == "OO"


def test_a_box_that_widens_as_the_tracker_settles_does_not_double_the_letter():
    """MediaPipe's box around a hand it has just found grows by a third over its first
    frames (seen in the spelling bench's validation recordings): one W, not two. A hand
    brought much closer (1.6x) between two holds is a move: a double."""
    frames = [("A", (229, 145, 101, 101))] * 5 + [
        ("W", (226, 123, 115, h)) for h in [166, 173, 200, 219, 224, 226] + [226] * 10]
    decoder = StreamDecoder()
    committed = []
    for k, (letter, hand) in enumerate(frames):
        committed.extend(decoder.update(k / 9, probs(letter, 0.99), hand).committed)
    assert "".join(committed) == "AW"
    decoder = StreamDecoder()
    committed = []
    for k, h in enumerate([120] * 5 + [160, 192] + [192] * 5):
        committed.extend(decoder.update(k / 9, probs("W", 0.99), (226, 123, h, h)).committed)
    assert "".join(committed) == "WW"


def test_unsure_frames_commit_nothing():
    decoder = StreamDecoder()
    steps = [decoder.update(k / 10, probs("A", 0.3), box(300)) for k in range(30)]
    assert not any(step.committed for step in steps)


def test_a_long_hold_with_flicker_and_drift_is_one_letter():
    """Five seconds of one letter, with single frames misread and the hand drifting slowly
    (half its size over the hold), spell it once."""
    decoder = StreamDecoder()
    rng = np.random.default_rng(1)
    committed = []
    for k in range(150):  # 30 fps
        t = k / 30
        letter = "M" if k % 17 == 5 else "N"
        x = 300 + 50 * t / 5 + rng.normal(0, 2)
        committed.extend(decoder.update(t, probs(letter, 0.8), box(x)).committed)
    assert "".join(committed) == "N"


def test_a_bounce_between_two_holds_doubles_the_letter():
    """The hand dips and comes back (not a slide: the same place before and after)."""
    decoder = StreamDecoder()
    committed = []
    frames = [(300, 200)] * 5 + [(300, 245)] + [(300, 200)] * 5
    for k, (x, y) in enumerate(frames):
        committed.extend(decoder.update(k / 8, probs("O", 0.9), box(x, y)).committed)
    assert "".join(committed) == "OO"


def test_no_hand_commits_nothing_and_ends_the_word():
    decoder = StreamDecoder()
    assert not any(decoder.update(k / 10, None).committed for k in range(20))
    for k in range(5):
        decoder.update(2 + k / 10, probs("B", 0.95), box(300))
    steps = [decoder.update(2.5 + k / 10, None) for k in range(10)]
    words = [step.word for step in steps if step.word]
    assert len(words) == 1 and [item.letter for item in words[0]] == ["B"]
    assert words[0][0].probs.shape == (NUM_CLASSES,)
    assert decoder.word == ()


def test_a_hand_that_leaves_and_comes_back_repeats_the_letter():
    decoder = StreamDecoder()
    committed = []
    for k in range(20):
        p = None if 8 <= k < 10 else probs("L", 0.9)
        committed.extend(decoder.update(k / 10, p, box(300) if p is not None else None).committed)
    assert "".join(committed) == "LL"


def test_a_gap_in_the_stream_is_not_bridged():
    """One frame before a long gap and one after do not make a hold."""
    decoder = StreamDecoder()
    assert decoder.update(0.0, probs("A"), box(300)).committed == ()
    assert decoder.update(5.0, probs("A"), box(300)).committed == ()
    assert decoder.update(5.2, probs("A"), box(300)).committed == ("A",)


def test_without_boxes_holds_still_commit():
    """Pages without the hand locator send no box: the decoder reads the letters alone."""
    decoder = StreamDecoder()
    committed = []
    for k in range(10):
        committed.extend(decoder.update(k / 10, probs("Y" if k < 5 else "W"), None).committed)
    assert "".join(committed) == "YW"


def test_hold_progress_rises_to_one():
    decoder = StreamDecoder(DecoderSettings(settle_ms=300))
    holds = [decoder.update(k / 10, probs("C"), box(300)).hold for k in range(6)]
    assert holds[0] == 0.0 and holds[1] < holds[2] < 1.0 and holds[-1] == 1.0


@pytest.mark.parametrize("bad", [np.zeros(23), np.full(24, np.nan), [0.5] * 25])
def test_bad_probabilities_are_refused(bad):
    with pytest.raises(ValueError, match="24 finite numbers"):
        StreamDecoder().update(0.0, bad, box(300))


def test_frames_out_of_order_are_refused():
    decoder = StreamDecoder()
    decoder.update(1.0, probs("A"), box(300))
    with pytest.raises(ValueError, match="time order"):
        decoder.update(0.5, probs("A"), box(300))


@pytest.mark.parametrize("field,value", [("settle_ms", -1), ("confidence", 1.5),
                                         ("min_frames", 0), ("move_fraction", 0),
                                         ("resize_fraction", 0)])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        DecoderSettings(**{field: value})
