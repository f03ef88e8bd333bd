"""Dates a question names, read against the question's own date (pure, table-tested)."""

from __future__ import annotations

from datetime import date

import pytest

from rag.retrieve.dates import DateHint, asked_on, date_hint, in_range
from rag.retrieve.hybrid import boost_dates

TODAY = date(2025, 3, 12)

CASES = [
    ("What did the ECB decide in March 2025?", DateHint("2025-03-01", "2025-03-31")),
    ("Which bill passed in February 2024?", DateHint("2024-02-01", "2024-02-29")),
    ("What happened in 2023 to the levy?", DateHint("2023-01-01", "2023-12-31")),
    ("Who resigned this week?", DateHint("2025-03-05", "2025-03-12")),
    ("Who resigned last week?", DateHint("2025-02-26", "2025-03-05")),
    ("What did the minister say yesterday?", DateHint("2025-03-11", "2025-03-11")),
    ("What was announced last month?", DateHint("2025-02-01", "2025-02-28")),
    ("What happened in January?", DateHint("2025-01-01", "2025-01-31")),
    ("What happened in December?", DateHint("2024-12-01", "2024-12-31")),  # the latest December
    ("What is the latest on the port strike?", DateHint(None, None, True)),
    ("What did the most recent report find this week?", DateHint("2025-03-05", "2025-03-12", True)),
    ("When does the coastal levy take effect?", None),
    ("May the levy be appealed?", None),  # a modal verb, not a month
    ("How many died in 1348?", None),  # years before 1900 are history, not a range of news
]


@pytest.mark.parametrize("question, expected", CASES, ids=[c[0] for c in CASES])
def test_date_hint(question: str, expected: DateHint | None) -> None:
    assert date_hint(question, TODAY) == expected


def test_in_range_and_boost() -> None:
    hint = DateHint("2025-03-01", "2025-03-31", latest=True)
    assert in_range("2025-03-31", hint) and not in_range("2025-04-01", hint) and not in_range(None, hint)
    boosted = boost_dates({1: 0.5, 2: 0.5, 3: 0.5}, {1: "2025-03-10", 2: "2025-01-02", 3: None}, hint)
    assert boosted[1] > boosted[2] > boosted[3] - 1e-9 and boosted[3] == 0.5


def test_a_dated_question_naming_no_date_boosts_the_week_up_to_its_date() -> None:
    hint = asked_on(TODAY, 7, 0.1)
    assert hint == DateHint("2025-03-05", "2025-03-12", False, 0.1)
    boosted = boost_dates({1: 0.5, 2: 0.5, 3: 0.5}, {1: "2025-03-06", 2: "2025-03-13", 3: "2025-02-20"}, hint)
    assert boosted == {1: 0.6, 2: 0.5, 3: 0.5}  # after the question's date or weeks before: no boost


def test_the_boost_of_a_named_date_and_of_the_asked_on_week_are_both_used_through_search(tmp_path) -> None:
    from rag.assistant import Assistant
    from rag.config import Settings
    from tests.fakes import HashingEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    texts = {"old": ("2025-01-02", "Harbour levy raised after council vote on quay repairs."),
             "new": ("2025-03-10", "Harbour levy raised after ministers argued over ferry fares.")}
    for name, (day, text) in texts.items():
        (docs / f"{name}.txt").write_text(f"Date: {day}\n\n{text}\n")
    with Assistant(Settings(index_dir=tmp_path / "index", judge="off"), embedder=HashingEmbedder()) as a:
        a.ingest([docs])
        undated = a.search("harbour levy raised", k=2, mode="bm25")
        dated = a.search("harbour levy raised", k=2, mode="bm25", as_of="2025-03-12")
        named = a.search("harbour levy raised in January 2025", k=2, mode="bm25", as_of="2025-03-12")
    assert undated[0].path.endswith("old.txt") and undated[0].score - undated[1].score < 0.05  # near tie
    assert dated[0].path.endswith("new.txt") and dated[0].score > dated[1].score
    assert named[0].path.endswith("old.txt")  # a date the question names wins over the asked-on week
    assert [h.in_dates for h in dated] == [True, False] and not any(h.in_dates for h in undated)


def test_evidence_of_the_asked_dates_comes_before_closer_wording_from_years_before() -> None:
    import dataclasses

    from rag.answer.evidence import select_evidence
    from rag.config import Settings
    from rag.types import Chunk, Hit
    from tests.fakes import HashingEmbedder

    def hit(doc: str, text: str, day: str, in_dates: bool) -> Hit:
        return Hit(1, 0.5, Chunk(f"{doc}:0", doc, 0, text, 0, len(text)), f"/{doc}.txt", doc, day, in_dates=in_dates)

    question = "Which club unveiled plans for a new stadium this week?"
    old = hit("old", "The club unveiled plans for a new stadium.", "2016-02-01", False)
    new = hit("new", "The club unveiled plans for a new stadium near Old Trafford.", "2025-03-11", True)
    chosen = select_evidence(question, [old, new], HashingEmbedder(), Settings())
    assert chosen[0].hit.doc_id == "new"
    undated = select_evidence(question, [old, dataclasses.replace(new, in_dates=False)], HashingEmbedder(), Settings())
    assert undated[0].hit.doc_id == "old"  # without the dates, the closer wording wins
