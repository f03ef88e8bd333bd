"""A follow-up in chat resolves "he" and "after that" from the history and answers from the right
document, through the real models (issue 13, item 2); `bench/bench_followups.py` measures the set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Assistant, Settings

PEOPLE = Path(__file__).resolve().parent / "corpus" / "people"
pytestmark = pytest.mark.e2e


def test_he_after_that_is_answered_from_the_tesla_profile(tmp_path, examples_copy):
    shutil.copytree(PEOPLE, tmp_path / "people")
    with Assistant(Settings.from_env({}, index_dir=tmp_path / "index")) as assistant:
        assistant.ingest([examples_copy, tmp_path / "people"])
        chat = assistant.chat()
        chat.ask("Which company did Tesla work for in France in 1882?")
        follow = "In what year did he emigrate to the United States after that?"
        assert "Tesla" in chat.standalone(follow)
        answer = chat.ask(follow)
        assert not answer.refused and "1884" in answer.answer
        assert any("tesla" in c.path and "1884" in c.quote for c in answer.citations)
        for c in answer.citations:
            assert assistant.document(c.doc_id).text[c.start:c.end] == c.quote
