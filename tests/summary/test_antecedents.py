"""A quoted sentence that leans on the one before ("Dr Okafor opposed this, warning ...") carries that
sentence, so a forwarded summary or brief reads on its own (issue 13, item 6)."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.summary.brief import make_brief
from rag.summary.extractive import leans_on_previous
from rag.summary.mapreduce import summarize
from tests.fakes import HashingEmbedder, ScriptedGenerator
from tests.summary.test_summarizing import assert_quotes_exact, corpus


@pytest.mark.parametrize(("sentence", "leans"), [
    ("This would cost the harbour towns 40 million marks a year.", True),
    ("Dr Okafor opposed this, warning that bills would rise for pensioners.", True),
    ("He insisted that the second cable was needed before winter.", True),
    ("The proposal was dropped by the cabinet in May.", True),
    ("Critics called it a tax on the coast.", True),
    ("It is unclear whether inland households will pay the levy.", False),  # "it" points at nothing
    ("Dr Okafor opposed this plan in the committee.", False),  # "this plan" names what it means
    ("The Ministry of Finance said the levy starts in July.", False),
])
def test_leans_on_previous(sentence: str, leans: bool) -> None:
    assert leans_on_previous(sentence) is leans


NOTE = (
    "The Ministry of Finance proposed a flat harbour fee of 900 marks for every fishing boat registered in "
    "Calvera. Dr Amara Okafor opposed this, warning that the fee would close the smallest family boats within "
    "a year. The harbour board will publish the final fee schedule in September after a public consultation.\n\n"
    "Separately, the port of Calvera will dredge its main channel to twelve metres before the spring season. "
    "The dredging contract is worth 14 million marks and goes to a firm from Port Elsen.\n"
)


def test_a_quoted_note_that_leans_on_the_sentence_before_carries_it():
    infos, chunks, texts = corpus([("d1", "Harbour fee note", "2026-05-02", NOTE)], size=3, overlap=0)
    # unsupported (no "300" in the note): replaced by the closest note, Okafor's sentence
    reply = "Dr Amara Okafor opposed this, warning that the fee would close 300 family boats within a year."
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    at = next(k for k, s in enumerate(answer.sentences) if "Okafor opposed this" in s.text)
    okafor = answer.sentences[at]
    carried = okafor.text.startswith("The Ministry of Finance proposed a flat harbour fee")
    just_before = at > 0 and answer.sentences[at - 1].text.endswith("registered in Calvera.")
    assert carried or just_before  # the fee it opposes is named right before, in the same note or the last
    if carried:
        quotes = [answer.citations[n - 1].quote for n in okafor.citations]
        assert quotes[0].startswith("The Ministry of Finance proposed") and quotes[1].startswith("Dr Amara Okafor")
    assert_quotes_exact(answer.citations, texts)


def test_a_leaning_note_away_from_its_antecedent_carries_it():
    infos, chunks, texts = corpus([("d1", "Harbour fee note", "2026-05-02", NOTE)], size=3, overlap=0)
    reply = ("The port of Calvera will dredge its main channel to twelve metres before the spring season. "
             "Dr Amara Okafor opposed this, warning that the fee would close 300 family boats within a year. "
             "The dredging contract is worth 14 million marks and goes to a firm from Port Elsen.")
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    okafor = next(s for s in answer.sentences if "Okafor opposed this" in s.text)
    assert okafor.text.startswith("The Ministry of Finance proposed a flat harbour fee")
    assert len(okafor.citations) == 2
    assert_quotes_exact(answer.citations, texts)


def test_an_actors_position_carries_its_antecedent():
    infos, chunks, texts = corpus([("d1", "Harbour fee note", "2026-05-02", NOTE)], size=3, overlap=0)
    brief = make_brief(infos, chunks, ScriptedGenerator(["The harbour fee is 900 marks."]), HashingEmbedder(),
                       Settings())
    okafor = next(a for a in brief.actors if a.name == "Amara Okafor")
    position = okafor.positions[0]
    assert "proposed a flat harbour fee" in position.text and "opposed this" in position.text
    assert len(position.citations) == 2
    assert_quotes_exact(brief.citations, texts)
