"""bench/spelling_rate.py's own logic that needs no browser: the page variants it compares in
one run (--page) and the edit distance its letters-right figures come from."""

from __future__ import annotations

import argparse

import pytest

from bench.spelling_rate import edit_distance, page_variants


def variants(*pages: str):
    return page_variants(argparse.Namespace(page=list(pages) or None))


def test_page_variants_name_page_settings_and_become_app_config():
    assert variants() == [("", {})]  # the app's own settings, unlabelled
    assert variants("overlap=0", "overlap=1") == [("overlap=0", {"OVERLAP": 0}),
                                                  ("overlap=1", {"OVERLAP": 1})]
    assert variants("overlap=1, max_side=320") == [("overlap=1,max_side=320",
                                                    {"OVERLAP": 1, "MAX_SIDE": 320})]


@pytest.mark.parametrize("pages, why", [
    (["speed=2"], "no page setting 'speed'"),
    (["overlap=yes"], "'yes' is not a whole number"),
    (["overlap"], "'' is not a whole number"),
    (["overlap=1", "overlap=1"], "the same variant twice"),
])
def test_bad_page_variants_are_refused_with_a_reason(pages, why):
    with pytest.raises(ValueError, match=why):
        variants(*pages)


def test_edit_distance_counts_insertions_deletions_and_substitutions():
    assert edit_distance("HELLO", "HELLO") == 0
    assert edit_distance("HELLO", "HELO") == 1
    assert edit_distance("APPLE", "APQLE") == 1
    assert edit_distance("APPLE", "APPQGMLE") == 3
    assert edit_distance("", "FAX") == 3
