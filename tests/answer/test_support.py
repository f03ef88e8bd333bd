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
    ("The levy takes effect in Brussels.", SOURCE, "Ministers met in Brussels.", "", 0.9, False,
     "a name must be in the quote itself, not only in the passage around it"),
    ("The levy will raise 340 million marks a year, not the 340 million marks stated by the Ministry.",
     "Using corrected values, we estimate that the levy would raise 310 million marks a year, not the 340 "
     "million marks stated by the Ministry.", "", "", 0.95, False,
     "a figure swapped in: 340 is in the quote, but not as what the levy raises"),
    ("The Ministry expects 340 million marks a year from the levy.",
     "The Ministry expects the levy to raise 340 million marks a year.", "", "", 0.9, True,
     "the figure's measure may stand a few words before it in the quote"),
    ("Expected revenue is 340 million marks a year.", "Expected revenue (Ministry) | 340 million marks a year",
     "", "", 0.9, True, "a table row: the label before the figure"),
    ("The Office completed a revaluation.", "We recommend that the Office complete a revaluation.", "", "", 0.9,
     False, "a recommendation does not support a statement of fact"),
    ("The report recommends that the Office complete a revaluation.",
     "We recommend that the Office complete a revaluation.", "", "", 0.9, True, "a hedged claim may cite a hedged span"),
    ("The levy could raise 310 million marks.", "The levy will raise 310 million marks.", "", "", 0.9, True,
     "a weaker claim may cite a fact"),
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
    del context  # the passage around the quote no longer counts: every key term must be in the quote
    assert supports(Claim.of(claim), Source.of(source, title), cosine) is expected, why


def test_cover_and_clauses() -> None:
    claim = Claim.of("Fees rose in Leeds.")
    assert cover(claim, Source.of("Fees rose.")) == pytest.approx(2 / 3)
    assert clauses("Fees rose; costs fell, but wages held") == ["Fees rose", "costs fell", "wages held"]
    assert clauses("Fees rose; ok") == ["Fees rose ok"]  # a tail without two content words joins the clause


def test_an_answer_with_a_swapped_figure_is_not_marked_supported() -> None:
    from rag.answer.verify import verify_answer
    from rag.types import Chunk, Evidence, Hit
    from tests.fakes import HashingEmbedder

    quote = ("Using corrected values, we estimate that the levy would raise 310 million marks a year, not the 340 "
             "million marks stated by the Ministry.")
    chunk = Chunk("d1:0", "d1", 0, quote, 0, len(quote))
    evidence = [Evidence(1, Hit(1, 1.0, chunk, "/docs/ledger.html", "Sorvik Ledger", "2026-01-20"), 0, len(quote),
                         quote, 1.0)]
    result = verify_answer("How much will the levy raise each year?",
                           "The levy will raise 340 million marks a year, not the 340 million marks stated by the "
                           "Ministry [1].", evidence, HashingEmbedder(), quote_when_unsupported=False)
    assert not any(s.supported for s in result.sentences) and not result.citations
    honest = verify_answer("How much will the levy raise each year?",
                           "The levy would raise 310 million marks a year, not the 340 million marks stated by the "
                           "Ministry [1].", evidence, HashingEmbedder(), quote_when_unsupported=False)
    assert [s.supported for s in honest.sentences] == [True]
