"""Disputed figures and compared parties: the sources disagree, each side is cited with its date
(issue 14, items 4 and 5). Unit tests over small hits; the end-to-end ones through the real models
over tests/answer/corpus/disputes (a press release, two think-tank notes that disagree, a committee transcript)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.answer.sides import (
    comparison_parties,
    disputed_figure,
    is_figure_question,
    with_dispute,
)
from rag.types import AnswerSentence, Chunk, Citation, Hit, VerifiedAnswer

DATA = Path(__file__).resolve().parent / "corpus" / "disputes"


def _hit(doc_id: str, text: str, date: str | None, rank: int = 0) -> Hit:
    return Hit(rank, 1.0, Chunk(f"{doc_id}:0", doc_id, 0, text, 0, len(text)), f"{doc_id}.txt", doc_id.title(), date)


@pytest.mark.parametrize(("question", "figure"), [
    ("By how much did Veltran's exports fall?", True),
    ("How much will the levy raise each year?", True),
    ("What share of firms exported?", True),
    ("Who chaired the committee session?", False),
    ("When does the levy take effect?", False),
])
def test_figure_questions(question: str, figure: bool) -> None:
    assert is_figure_question(question) is figure


@pytest.mark.parametrize(("texts", "values"), [
    ({"a": "Veltran's exports fell by 12% in 2025.", "b": "Veltran's exports fell by 30% in 2025."}, ["12%", "30%"]),
    # the same value in two documents, written two ways, is agreement
    ({"a": "Veltran's exports fell by 12% in 2025.", "b": "Veltran's exports fell 12 per cent last year."}, []),
    # a number that does not measure what is asked (survey size, years) is no side
    ({"a": "Veltran's exports fell by 12% in 2025.", "b": "Our survey of 140 exporting firms was run in 2025."}, []),
    # a value quoted only to be rejected ("not the 340 million") is no side of its own
    ({"a": "The levy would raise 310 million marks, not the 340 million marks stated.",
      "b": "The levy would raise 310 million marks a year."}, []),
    # two values in one document are a correction inside it, not a dispute between sources
    ({"a": "Veltran's exports fell by 12% in value; Veltran's exports fell by 30% in volume."}, []),
])
def test_disputed_figure_table(texts: dict[str, str], values: list[str]) -> None:
    hits = [_hit(d, t, f"2026-0{i + 1}-01", i) for i, (d, t) in enumerate(texts.items())]
    assert [s.label for s in disputed_figure("By how much did Veltran's exports fall?" if "Veltran" in
                                             next(iter(texts.values())) else "How much would the levy raise?",
                                             hits)] == values


def test_sides_are_ordered_by_date_and_quote_their_sentence() -> None:
    hits = [_hit("late", "Intro. Veltran's exports fell by 38% in 2025.", "2026-03-09", 0),
            _hit("early", "Veltran's exports fell by 12% in 2025. More.", "2026-02-03", 1)]
    sides = disputed_figure("By how much did Veltran's exports fall?", hits)
    assert [(s.label, s.hit.date) for s in sides] == [("12%", "2026-02-03"), ("38%", "2026-03-09")]
    for s in sides:
        assert s.hit.chunk.text[s.start:s.end] == s.text and "exports fell" in s.text


def test_a_dispute_replaces_the_model_stating_one_side_as_fact() -> None:
    hits = [_hit("min", "Veltran's exports fell by 12% in 2025.", "2026-02-03", 0),
            _hit("nord", "Veltran's exports fell by 38% in 2025.", "2026-03-09", 1)]
    one_side = Citation(1, "min", "min:0", "min.txt", "Min", None, 0, 38, hits[0].chunk.text)
    verified = VerifiedAnswer("Exports fell 12% [1].", (AnswerSentence("Exports fell 12%.", (1,), True),),
                              (one_side,), False)
    disputed = with_dispute(verified, disputed_figure("By how much did Veltran's exports fall?", hits))
    assert disputed.answer.startswith("The sources disagree: 12% (Min, 2026-02-03); 38% (Nord, 2026-03-09) [1][2].")
    assert "Exports fell 12%." not in [s.text for s in disputed.sentences]
    assert "The most recent of them (2026-03-09) gives 38% [2]." in disputed.answer
    assert [(c.n, c.doc_id) for c in disputed.citations] == [(1, "min"), (2, "nord")]
    for s in disputed.sentences:
        assert s.supported and s.citations


@pytest.mark.parametrize(("question", "parties"), [
    ("How do the Harbour Institute and the Nordic Policy Forum differ on the export credit scheme?",
     ["Harbour Institute", "Nordic Policy Forum"]),
    ("Compare the Ministry of Trade with the Harbour Institute on exports.", ["Ministry of Trade", "Harbour Institute"]),
    ("Do Petra Vogel and Tomas Ek agree on the credit scheme?", ["Petra Vogel", "Tomas Ek"]),
    ("What did the Harbour Institute and the Nordic Policy Forum say?", []),  # no comparing word
    ("How do exports and imports differ?", []),  # no named parties
])
def test_comparison_parties(question: str, parties: list[str]) -> None:
    assert comparison_parties(question) == parties


# -- end to end, real models ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def disputes(tmp_path_factory):
    a = Assistant(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("disputes") / "index"))
    report = a.ingest([DATA])
    assert report.documents == 4 and not report.failed
    yield a
    a.close()


def _quotes_hold(assistant: Assistant, answer) -> None:
    numbers = {c.n for c in answer.citations}
    for c in answer.citations:
        assert assistant.document(c.doc_id).text[c.start:c.end] == c.quote
    for s in answer.sentences:
        assert s.supported == bool(s.citations) and set(s.citations) <= numbers


@pytest.mark.e2e
def test_disputed_export_fall_cites_each_side_with_its_date(disputes):
    answer = disputes.ask("By how much did Veltran's exports fall?")
    assert not answer.refused and answer.answer.startswith("The sources disagree:")
    _quotes_hold(disputes, answer)
    for value, date in (("12%", "2026-02-03"), ("30%", "2026-02-20"), ("38%", "2026-03-09")):
        assert f"{value} (" in answer.sentences[0].text and date in answer.sentences[0].text
        assert any(value in c.quote for c in answer.citations)
    assert len({c.doc_id for c in answer.citations}) == 3


@pytest.mark.e2e
def test_disputed_levy_revenue_over_examples(tmp_path, examples_copy):
    with Assistant(Settings.from_env({}, index_dir=tmp_path / "index")) as a:
        a.ingest([examples_copy])
        answer = a.ask("How much will the levy raise each year?")
        _quotes_hold(a, answer)
    assert answer.answer.startswith("The sources disagree:")
    for value in ("340 million", "310 million", "320 million"):
        assert value in answer.sentences[0].text and any(value in c.quote for c in answer.citations)
    assert "The most recent of them (2026-04-16) gives 320 million" in answer.answer


@pytest.mark.e2e
def test_a_label_line_answers_who_chaired(disputes):
    answer = disputes.ask("Who chaired the committee session?")
    assert not answer.refused
    _quotes_hold(disputes, answer)
    assert any("Chair: Rosa Lindqvist MP" in c.quote for c in answer.citations)


@pytest.mark.e2e
def test_a_comparison_cites_each_named_party(disputes):
    answer = disputes.ask("How do the Harbour Institute and the Nordic Policy Forum differ on the export credit scheme?")
    assert not answer.refused
    _quotes_hold(disputes, answer)
    titles = {c.doc_id: c.title for c in answer.citations}
    assert any("export slump" in t for t in titles.values()) and any("after the slump" in t for t in titles.values())
    quotes = " ".join(c.quote for c in answer.citations)
    assert "Harbour Institute" in quotes and "Nordic Policy Forum" in quotes
