"""Bylines are never the answer to "What did X say ...?"; what X said is (issue 13, item 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.answer.speakers import asks_author, is_byline, speaker, speaks

BYLINES = Path(__file__).resolve().parent / "corpus" / "bylines"


@pytest.mark.parametrize(("text", "byline"), [
    ("Ingrid Halvorsen, Senior Fellow for Energy Security, 22 May 2026", True),
    ("By Lena Varga", True),
    ("Lena Varga\nNordic Energy Forum", True),
    ("Ingrid Halvorsen said that the target should be raised to 3 GWh.", False),
    ("The Ministry of Finance", False),
    ("Chair: Rosa Lindqvist MP", False),
    ("# Storage before speed: why the 2030 grid target needs a second look", False),
    ("Date: 2025-03-07", True),  # a dateline
    ("Published: 14 March 2025", True),
    ("Updated Mon, 3 Mar 2025 10:00 GMT", True),
    ("Updated three times in 2024", False),
    ("The date: 2024 was a good year.", False),
])
def test_is_byline(text: str, byline: bool) -> None:
    assert is_byline(text) is byline


def test_speaker_questions_and_speech() -> None:
    assert speaker("What did Ingrid Halvorsen say about the storage target?") == "Ingrid Halvorsen"
    assert speaker("What does Berg think of the auction?") == "Berg"
    assert speaker("What did the Ministry say about the levy?") == "Ministry"
    assert speaker("What is the storage target?") is None
    assert speaks("Halvorsen warned that the first auction came too late.", "Ingrid Halvorsen")
    assert not speaks("Ingrid Halvorsen, Senior Fellow for Energy Security, 22 May 2026", "Ingrid Halvorsen")
    assert not speaks("The storage target is 2.4 GWh.", "Ingrid Halvorsen")
    assert asks_author("Who wrote the note?") and not asks_author("What did she say?")


@pytest.mark.e2e
def test_what_did_x_say_quotes_what_x_said_not_the_byline(tmp_path, examples_copy):
    shutil.copytree(BYLINES, tmp_path / "bylines")
    with Assistant(Settings.from_env({}, index_dir=tmp_path / "index")) as assistant:
        assistant.ingest([examples_copy, tmp_path / "bylines"])
        answer = assistant.ask("What did Ingrid Halvorsen say about the storage target?")
        for c in answer.citations:
            assert assistant.document(c.doc_id).text[c.start:c.end] == c.quote
    assert not answer.refused and "3 GWh" in answer.answer
    assert any("Ingrid Halvorsen said" in c.quote for c in answer.citations)
    assert not any(is_byline(c.quote) for c in answer.citations) and "Senior Fellow" not in answer.answer
