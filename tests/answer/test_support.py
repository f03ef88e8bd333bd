"""The one support rule (rag.answer.support), table-tested: claim, source, cosine -> supported?"""

from __future__ import annotations

import pytest

from rag.answer.support import Claim, Source, clauses, cover, supports

SOURCE = "The coastal levy takes effect on 1 March 2027, the finance ministry said."

LONG_CLAIM = "The coastal levy takes effect on 1 March 2027 after a parliamentary vote, the finance ministry said."

CASES = [
    # (claim, source, context, title, cosine, supported, why)
    ("The coastal levy takes effect on 1 March 2027.", SOURCE, "", "", 0.0, True, "every term on words alone"),
    ("The coastal levy takes effect on 1 March 2028.", SOURCE, "", "", 0.9, False, "a number the span lacks"),
    ("The levy takes effect in Brussels.", SOURCE, "", "", 0.9, False, "a name the span lacks"),
    ("The levy takes effect in Brussels.", SOURCE, "Ministers met in Brussels.", "", 0.9, True,
     "a key term may come from the passage around the span"),
    ("The coastal levy does not take effect on 1 March 2027.", SOURCE, "", "", 0.9, False, "negation differs"),
    ("The coastal levy takes effect without delay on 1 March 2027.", SOURCE, "", "", 0.9, False,
     "'without' is a negation"),
    (LONG_CLAIM, SOURCE, "", "", 0.6, True, "one term in five may be missing when the cosine is high"),
    (LONG_CLAIM, SOURCE, "", "", 0.3, False, "...but not when it is low"),
    ("The coastal levy takes effect on 1 March 2027 after a parliamentary vote.", SOURCE, "", "", 0.9, False,
     "two of nine terms missing is too many"),
    ("The levy raised 40 million euros.", "The levy raised 40 million euros in fines and fees.", "", "", 0.8, True,
     "figure and what it measures both present"),
    ("Fines cost 40 million euros.", "The levy raised 40 million euros in fines.", "", "", 0.8, False,
     "the figure is said to measure something the span does not name"),
    ("Ports were not consulted.", "The ports were consulted, but the unions were not consulted.", "", "", 0.8,
     False, "the clause sharing most words is not negated"),
    ("Unions were not consulted.", "The ports were consulted, but the unions were not consulted.", "", "", 0.8,
     True, "negation read on the matching clause"),
    ("Harbour fees rise.", "Fees rise.", "", "Harbour authority", 0.8, True, "the title counts toward cover"),
    ("The and of.", SOURCE, "", "", 1.0, False, "a claim with no content terms supports nothing"),
]


@pytest.mark.parametrize("claim, source, context, title, cosine, expected, why", CASES, ids=[c[-1] for c in CASES])
def test_support_rule(claim: str, source: str, context: str, title: str, cosine: float, expected: bool,
                      why: str) -> None:
    assert supports(Claim.of(claim), Source.of(source, context, title), cosine) is expected, why


def test_cover_and_clauses() -> None:
    claim = Claim.of("Fees rose in Leeds.")
    assert cover(claim, Source.of("Fees rose.")) == pytest.approx(2 / 3)
    assert clauses("Fees rose; costs fell, but wages held") == ["Fees rose", "costs fell", "wages held"]
    assert clauses("Fees rose; ok") == ["Fees rose ok"]  # a tail without two content words joins the clause
