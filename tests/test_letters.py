"""Label <-> letter mapping and the top letters (webapp/model/letters.py): the one place both the
live answers and `signlive predict` take them from."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.model.letters import CLASS_LETTERS, NUM_CLASSES, letter_to_class, top_predictions


def test_top_predictions_most_likely_first_rounded():
    p = np.full(NUM_CLASSES, 0.01)
    p[letter_to_class("C")], p[letter_to_class("Y")], p[letter_to_class("A")] = 0.5, 0.3, 0.123456
    assert top_predictions(p) == [["C", 0.5], ["Y", 0.3], ["A", 0.1235]]
    assert top_predictions(p, k=1) == [["C", 0.5]]


def test_a_tie_goes_to_the_earlier_letter_as_argmax_does():
    p = np.zeros(NUM_CLASSES)
    p[letter_to_class("B")] = p[letter_to_class("W")] = 0.5
    top = top_predictions(p)
    assert top[0][0] == CLASS_LETTERS[int(np.argmax(p))] == "B"
    assert [letter for letter, _ in top[:2]] == ["B", "W"]
    uniform = top_predictions(np.full(NUM_CLASSES, 1 / NUM_CLASSES))
    assert [letter for letter, _ in uniform] == ["A", "B", "C"]


@pytest.mark.parametrize("letter", ["j", "Z", "?", ""])
def test_motion_and_unknown_letters_have_no_class(letter):
    with pytest.raises(ValueError):
        letter_to_class(letter)
