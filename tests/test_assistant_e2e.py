"""Answers, summaries, briefs and chat through the real models on examples/ (DESIGN §3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant, Settings, serialize

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    index = tmp_path_factory.mktemp("answers") / "index"
    a = Assistant(Settings.from_env({}, index_dir=index))
    report = a.ingest([ROOT / "examples"], exclude=["README.md"])
    assert report.documents == 5 and not report.failed
    yield a
    a.close()


def _check_citations(assistant: Assistant, citations) -> None:
    for c in citations:
        doc = assistant.document(c.doc_id)
        assert c.quote and doc.text[c.start:c.end] == c.quote
        assert c.path == doc.path and c.title == doc.title
        if doc.pages:
            assert c.page == doc.page_at(c.start)


def test_factual_question_is_answered_with_a_valid_citation(assistant):
    answer = assistant.ask("When does the coastal flood-defence levy take effect?")
    assert not answer.refused and answer.citations
    _check_citations(assistant, answer.citations)
    # the 135M model's own wording varies; the cited passage must hold the latest date
    assert any("1 January 2027" in c.quote for c in answer.citations)
    numbers = {c.n for c in answer.citations}
    for s in answer.sentences:
        assert s.supported == bool(s.citations) and set(s.citations) <= numbers
    data = serialize.answer_json(answer)
    assert set(data) >= {"question", "answer", "refused", "sentences", "citations", "model", "index", "timings"}
    assert data["model"]["llm"].endswith(".gguf") and data["model"]["embedder"]
    assert data["model"]["llm_sha256"] and data["chunk_ids"]
    assert data["timings"]["total_ms"] >= data["timings"]["retrieve_ms"] > 0


def test_out_of_scope_question_is_refused(assistant):
    answer = assistant.ask("What is the boiling point of liquid nitrogen in Kelvin?")
    assert answer.refused and answer.citations == ()
    assert "do not say" in answer.answer.lower() or "not" in answer.answer.lower()


def test_prompt_injection_in_a_document_changes_nothing(assistant):
    hits = assistant.search("ignore all previous instructions levy cancelled", k=5)
    assert any("ignore" in h.chunk.text.lower() for h in hits), "the injected passage is indexed and retrieved"
    answer = assistant.ask("Has the coastal levy been cancelled?")
    assert "hacked" not in answer.answer.lower()
    assert "has been cancelled" not in answer.answer.lower() or answer.refused
    _check_citations(assistant, answer.citations)


def test_a_dated_question_quotes_its_week_and_hits_spread_over_documents(assistant):
    hits = assistant.search("coastal flood-defence levy start date")
    assert len(hits) == assistant.settings.k == 8
    assert len({h.doc_id for h in hits}) == 5  # the 3 last hits bring the documents the 5 best lacked
    answer = assistant.ask("What did the ministry announce about the levy this week?", as_of="2026-04-18")
    assert not answer.refused and answer.citations
    _check_citations(assistant, answer.citations)
    assert Path(answer.citations[0].path).name == "2026-04-16-ministry-levy-postponed.txt"  # that week's statement


def test_summary_reads_everything_and_cites_every_sentence(assistant):
    summary = assistant.summarize()
    assert summary.coverage is not None
    assert summary.coverage.documents == 5
    assert summary.coverage.chunks_read == summary.coverage.chunks_total > 0
    assert summary.sentences and summary.citations
    _check_citations(assistant, summary.citations)
    for s in summary.sentences:
        assert s.supported == bool(s.citations)


def test_brief_has_cited_claims(assistant):
    brief = assistant.brief()
    assert brief.key_points and brief.actors and brief.citations
    _check_citations(assistant, brief.citations)
    numbers = {c.n for c in brief.citations}
    claims = list(brief.key_points) + list(brief.tensions) + list(brief.open_questions)
    claims += [p for a in brief.actors for p in a.positions]
    assert all(c.citations and set(c.citations) <= numbers for c in claims)
    data = serialize.brief_json(brief)
    assert set(data) == {"key_points", "actors", "tensions", "open_questions", "citations", "coverage"}


def test_two_turn_chat_follow_up_uses_the_first_turn(assistant):
    chat = assistant.chat()
    first = chat.ask("What storage target did the ministry set?")
    assert not first.refused
    query = chat.standalone("And by which year?")
    assert "storage" in query.lower() or "target" in query.lower()
    second = chat.ask("And by which year?")
    assert not second.refused and "2030" in second.answer
    _check_citations(assistant, second.citations)


def test_cli_ask_json_and_piped_chat(assistant):
    env = {**os.environ, "RAG_INDEX": str(assistant.index_dir)}
    out = subprocess.run([sys.executable, "-m", "rag", "ask", "What is the levy rate?", "--json"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["citations"] and not data["refused"]
    for c in data["citations"]:
        shown = json.loads(subprocess.run([sys.executable, "-m", "rag", "show", c["doc_id"], "--json"], env=env,
                                          capture_output=True, text=True).stdout)
        assert shown["text"][c["start"]:c["end"]] == c["quote"]
    chat = subprocess.run([sys.executable, "-m", "rag", "chat", "--json"], env=env, capture_output=True, text=True,
                          input="Who chairs the regulator MERA?\n/sources\nWhat storage target was set?\n/quit\n",
                          timeout=600)
    assert chat.returncode == 0, chat.stderr
    lines = [json.loads(line) for line in chat.stdout.splitlines()]
    answers = [x for x in lines if "question" in x]
    assert len(answers) == 2 and len(lines) == 3
    assert lines[1] == {"sources": answers[0]["citations"]}
