"""Word suggestions (webapp/serve/suggest.py): candidates from the shipped word list, ranked with
the probabilities the decoder saw of each letter, not only the committed string."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.model.letters import NUM_CLASSES, letter_to_class
from webapp.serve.decoder import Letter
from webapp.serve.suggest import Lexicon, alignment_cost


def seen(spelled: str, p: float = 0.8, second: dict[int, str] | None = None) -> list[Letter]:
    """Committed letters, each read at p; `second` gives a letter's runner-up (1 - p)."""
    letters = []
    for i, char in enumerate(spelled):
        v = np.full(NUM_CLASSES, (1 - p) / (NUM_CLASSES - 1), np.float32)
        if second and i in second:
            v[:] = 0.0
            v[letter_to_class(second[i])] = 1 - p
        v[letter_to_class(char)] = p
        letters.append(Letter(char, v, float(i)))
    return letters


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    lex = Lexicon.shared()
    assert lex.wait(60), "the shipped word list did not load"
    return lex


def test_a_lost_double_letter_costs_less_than_another_lost_letter():
    letters = seen("HELO")
    assert alignment_cost("HELLO", letters) < alignment_cost("HELIO", letters)
    assert alignment_cost("HELO", letters) < alignment_cost("HELLO", letters)


def test_a_doubtful_letter_costs_less_to_replace_with_its_runner_up():
    """E read at 0.55 with R behind it: RO explains it better than when E was sure."""
    assert alignment_cost("RO", seen("EO", p=0.55, second={0: "R"})) < \
        alignment_cost("RO", seen("EO", p=0.95))


@pytest.mark.parametrize("spelled,intended", [
    ("HELO", "HELLO"), ("COFE", "COFFEE"), ("LAMA", "LLAMA"), ("BOK", "BOOK"),
    ("WORLD", "WORLD"), ("APLE", "APPLE"),
])
def test_the_intended_word_is_in_the_top_three(lexicon, spelled, intended):
    suggestions = lexicon.suggest(seen(spelled))
    assert intended in suggestions, suggestions
    assert len(suggestions) <= 3


def test_a_runner_up_letter_brings_its_word_forward(lexicon):
    """TEA spelled as 'SEA' with T close behind S: TEA is offered; with S sure it is not first."""
    doubtful = lexicon.suggest(seen("SEA", p=0.5, second={0: "T"}))
    assert "TEA" in doubtful


def test_nothing_is_suggested_for_nothing(lexicon):
    assert lexicon.suggest([]) == []


def test_a_small_word_list_works_without_the_shipped_one():
    lex = Lexicon({"CAT": 100, "CART": 50, "DOG": 100})
    assert lex.ready
    assert lex.suggest(seen("CAT"))[0] == "CAT"
    assert "CART" in lex.suggest(seen("CRT"))
    assert "DOG" in lex
