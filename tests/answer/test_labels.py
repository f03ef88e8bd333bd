"""Label lines ("Chair: Rosa Lindqvist MP") are evidence for the questions that ask for what they label
(issue 14, item 5): pure table tests, then evidence selection and the quote pick over a transcript."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import rag.answer.evidence as evidence_module
from rag import Settings
from rag.answer.evidence import select_evidence
from rag.answer.labels import label_match, label_of
from rag.answer.verify import verify_answer
from rag.thresholds import THRESHOLDS
from rag.types import Chunk, Hit
from tests.fakes import HashingEmbedder

TRANSCRIPT = (Path(__file__).resolve().parent / "corpus" / "disputes"
              / "2026-03-12-trade-committee-transcript.txt").read_text()
TITLE = "Standing Committee on Trade and Industry"


@pytest.mark.parametrize(("line", "label"), [
    ("Chair: Rosa Lindqvist MP", "Chair"),
    ("From: Press Office, Ministry of Trade", "From"),
    ("Date of issue: 3 May 2026", "Date of issue"),
    ("Witnesses: Petra Vogel (Harbour Institute); Tomas Ek (Nordic Policy Forum)", "Witnesses"),
    ("The memo was long: it ran to ten pages", None),  # a sentence with a colon, not a label
    ("Chair Rosa Lindqvist MP", None),
    ("Note: see below.\nMore text", None),  # two lines
])
def test_label_of(line: str, label: str | None) -> None:
    assert label_of(line) == label


@pytest.mark.parametrize(("question", "line", "asked"), [
    ("Who chaired the committee session?", "Chair: Rosa Lindqvist MP", True),
    ("Who was the clerk?", "Clerk: Jonas Berg", True),
    ("Who sent the memo?", "From: Press Office", True),
    ("When was the note issued?", "Date of issue: 3 May 2026", True),
    ("Who chaired the committee session?", "Clerk: Jonas Berg", False),
    ("What did the witnesses say?", "Chair: Rosa Lindqvist MP", False),
    ("When does the levy take effect?", "Date: 16 April 2026", False),  # a release's date is not the event's
])
def test_label_match(question: str, line: str, asked: bool) -> None:
    match = label_match(question, line, TITLE)
    assert match is not None and match.asked is asked
    assert {"standing", "committee"} <= match.terms  # read with its document's title


def _hit(text: str) -> Hit:
    return Hit(0, 1.0, Chunk("t:0", "t", 0, text, 0, len(text)), "transcript.txt", TITLE, "2026-03-12")


def test_the_asked_label_line_gains_the_label_bonus(monkeypatch) -> None:
    hit, embedder = _hit("Chair: Rosa Lindqvist MP"), HashingEmbedder()
    question = "Who chaired the committee session?"
    bonus = select_evidence(question, [hit], embedder, Settings())[0].score
    monkeypatch.setattr(evidence_module, "THRESHOLDS", dataclasses.replace(THRESHOLDS, label_asked=0.0))
    assert bonus == pytest.approx(select_evidence(question, [hit], embedder, Settings())[0].score
                                  + THRESHOLDS.label_asked)
    assert select_evidence("Who opened the committee session?", [hit], embedder, Settings())[0].score < bonus


def test_a_label_line_in_the_opening_runs_from_the_top_and_is_the_quote() -> None:
    embedder = HashingEmbedder()
    question = "Who chaired the committee session?"
    found = select_evidence(question, [_hit(TRANSCRIPT)], embedder, Settings(), max_sources=10)
    chair = [ev for ev in found if "Chair: Rosa" in ev.text]
    assert len(chair) == 1 and chair[0].start == 0 and TRANSCRIPT[: chair[0].end] == chair[0].text
    # with nothing supported in the model's reply, the quote is the label line, not the heading above it
    verified = verify_answer(question, "The committee met.", chair, embedder)
    assert not verified.refused
    assert [c.quote for c in verified.citations] == ["Chair: Rosa Lindqvist MP"]
