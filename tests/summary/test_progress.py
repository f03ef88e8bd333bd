"""Summaries and briefs report their progress: (steps done, steps total, what is being done)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.config import Settings
from rag.summary import extractive
from rag.summary.brief import make_brief
from rag.summary.mapreduce import summarize
from tests.fakes import HashingEmbedder, ScriptedGenerator
from tests.summary.test_summarizing import corpus

REPLY = "The Ministry of Finance announced a coastal flood-defence levy. The levy will be set at 1.5%."

Call = tuple[int, int, str]


def phases(calls: list[Call]) -> list[list[Call]]:
    """The calls cut into phases: a phase ends where the count starts again or the total changes."""
    out: list[list[Call]] = []
    for call in calls:
        if not out or call[1] != out[-1][-1][1] or call[0] < out[-1][-1][0]:
            out.append([])
        out[-1].append(call)
    return out


def assert_counts_up_to_total(calls: list[Call]) -> list[list[Call]]:
    assert calls, "no progress was reported"
    cut = phases(calls)
    for phase in cut:
        done = [d for d, _, _ in phase]
        total = phase[0][1]
        assert done == sorted(done) and done[0] == 0 and done[-1] == total > 0, phase
        assert all(what for _, _, what in phase)
    return cut


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extractive, "READ_BATCH", 4)


def test_summarize_reports_reading_then_writing_up_to_each_total(small_batches: None) -> None:
    infos, chunks, _ = corpus()
    calls: list[Call] = []
    summarize(infos, chunks, ScriptedGenerator([REPLY]), HashingEmbedder(), Settings(),
              progress=lambda *c: calls.append(c))
    reading, writing = assert_counts_up_to_total(calls)
    sentences = len(extractive.read_documents(infos, chunks, HashingEmbedder()).units)
    assert reading[-1][:2] == (sentences, sentences) and len(reading) > 2  # one step per batch of 4
    assert {w for _, _, w in reading} == {"sentences read"}
    assert writing[0][2] == "tokens written (the model reads the notes)" and len(writing) > 2
    assert {w for _, _, w in writing[1:]} == {"tokens written"}


def test_brief_reports_the_same_phases(small_batches: None) -> None:
    infos, chunks, _ = corpus()
    calls: list[Call] = []
    make_brief(infos, chunks, ScriptedGenerator([REPLY]), HashingEmbedder(), Settings(),
               progress=lambda *c: calls.append(c))
    assert [p[-1][2] for p in assert_counts_up_to_total(calls)] == ["sentences read", "tokens written"]


def test_the_assistant_passes_progress_through(tmp_path: Path, corpus: Path) -> None:
    gen = ScriptedGenerator(["The coastal flood levy will take effect on 1 January 2027."])
    with Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=gen) as a:
        a.ingest([corpus])
        summary_calls: list[Call] = []
        brief_calls: list[Call] = []
        a.summarize(progress=lambda *c: summary_calls.append(c))
        a.brief(progress=lambda *c: brief_calls.append(c))
    assert len(assert_counts_up_to_total(summary_calls)) == len(assert_counts_up_to_total(brief_calls)) == 2
