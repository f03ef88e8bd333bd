"""The answer stage through Assistant with fakes: pages of quotes, window-aware prompts, stop strings."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pytest

from rag.answer.prompt import ANSWER_STOP
from rag.assistant import Assistant
from rag.config import MAX_QUESTION_CHARS, Settings
from rag.errors import QuestionTooLongError
from tests.fakes import HashingEmbedder, KeywordJudge, ScriptedGenerator

PAGE_ONE = "The harbour board met in Sorvik on 3 March 2026 to review the dredging plan."
PAGE_TWO = "The dredging of the Kessel channel will cost 120 million euros over four years."


def _two_page_pdf(path: Path) -> Path:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in (PAGE_ONE, PAGE_TWO):
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    path.write_bytes(bytes(pdf.output()))
    return path


class RecordingGenerator(ScriptedGenerator):
    """A scripted generator that also remembers the stop strings it was given."""

    def __init__(self, replies: Sequence[str], context_window: int = 4096) -> None:
        super().__init__(replies, context_window=context_window)
        self.stops: list[tuple[str, ...]] = []

    def stream(self, messages, *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:  # noqa: ANN001
        self.stops.append(tuple(stop))
        return super().stream(messages, max_tokens=max_tokens, stop=stop)


def test_citation_carries_the_page_of_its_quote(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _two_page_pdf(docs / "dredging.pdf")
    gen = RecordingGenerator(["The dredging will cost 120 million euros [1]."])
    with Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=gen) as a:
        a.ingest([docs])
        chunks = a.selection()[1]
        assert [c.page for c in chunks] == [1, 2]  # pages are hard chunk boundaries
        answer = a.ask("How much will the dredging of the Kessel channel cost?")
        doc = a.document(chunks[0].doc_id)
    assert not answer.refused and answer.citations
    cite = answer.citations[0]
    assert "120 million" in cite.quote and doc.text[cite.start:cite.end] == cite.quote
    assert cite.page == 2
    assert gen.stops[-1] == ANSWER_STOP


def test_prompt_is_packed_to_the_generators_window(tmp_path: Path, corpus: Path) -> None:
    roomy = RecordingGenerator(["The levy takes effect on 1 January 2027."], context_window=8192)
    tight = RecordingGenerator(["The levy takes effect on 1 January 2027."], context_window=300)
    sizes = []
    for gen in (roomy, tight):
        settings = Settings(index_dir=tmp_path / f"index-{gen.context_window}", max_tokens=128)
        with Assistant(settings, embedder=HashingEmbedder(), generator=gen) as a:
            a.ingest([corpus])
            a.ask("When does the coastal flood levy take effect?")
        messages = gen.calls[-1]
        sizes.append(sum(gen.count_tokens(m["content"]) for m in messages))
    assert sizes[1] < sizes[0]
    assert sizes[1] <= 300 - 128


def test_the_judge_reranks_on_request_and_is_recorded(tmp_path: Path, corpus: Path) -> None:
    judge = KeywordJudge(threshold=0.5)
    gen = RecordingGenerator(["The levy takes effect on 1 January 2027 [1]."])
    with Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=gen,
                   judge=judge) as a:
        a.ingest([corpus])
        hits = a.search("When does the coastal flood levy take effect?", rerank=True)
        assert hits[0].path.endswith("levy.md") and hits[0].judge_score is not None
        assert hits[0].score == pytest.approx(0.5 * hits[0].judge_score + 0.5 * 1.0, abs=1e-6)  # the blend
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert a.search("levy")[0].judge_score is None  # reranking is off by default
        answer = a.ask("When does the coastal flood levy take effect?")
        assert not answer.refused and answer.model["judge"] == "fake:keyword-judge"
        calls = len(gen.calls)
        assert a.ask("Which orchestra plays the harbour festival overture?").refused
        assert len(gen.calls) == calls  # refused by the gate, before the model was called


def test_an_over_long_question_is_refused_before_any_model_runs(tmp_path: Path, corpus: Path) -> None:
    gen = RecordingGenerator(["The levy takes effect on 1 January 2027."])
    too_long = "Why? " * (MAX_QUESTION_CHARS // 5 + 1)
    with Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=gen) as a:
        a.ingest([corpus])
        with pytest.raises(QuestionTooLongError, match=f"{MAX_QUESTION_CHARS:,} characters"):
            a.ask(too_long)
        session = a.chat()
        session.history = [{"role": "user", "content": "When?"}, {"role": "assistant", "content": "Soon."}]
        with pytest.raises(QuestionTooLongError):
            session.ask(too_long)
        assert a.ask("x" * MAX_QUESTION_CHARS).question == "x" * MAX_QUESTION_CHARS  # the cap itself is allowed
    assert len(gen.calls) <= 1  # only the question within the cap reached the model
