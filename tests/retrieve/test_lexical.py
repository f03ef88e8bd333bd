"""Content terms, names/numbers and overlap."""

from __future__ import annotations

from rag.retrieve.lexical import content_terms, key_terms, normalize_term, overlap


def test_terms_normalise_numbers_plurals_and_names() -> None:
    assert {"1000", "ship", "2", "euro"} <= content_terms("The 1,000 ships cost two euros.")
    expected = {"march", "2021", "harbour", "authority", "nato"}
    assert key_terms("In March 2021 the Harbour Authority met NATO.") == expected
    assert key_terms("Construction will cost 40 million.") == {"40"}
    assert key_terms("Who is Beyoncé?") == {"beyonce"}  # accents folded
    assert key_terms("Was the U.S. involved?") == set()  # single letters are not names


def test_normalize_and_overlap() -> None:
    assert [normalize_term(w) for w in ("Policies", "class", "Ruiz's", "1,000.0", "Möngke")] == [
        "policy", "class", "ruiz", "1000", "mongke"]
    assert overlap({"a", "b"}, {"a", "c"}) == 0.5 and overlap(set(), {"a"}) == 0.0
