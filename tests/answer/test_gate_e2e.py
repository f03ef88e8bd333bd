"""The refusal gate through the real models: a news question whose evidence chunk calls the person "she"
is answered, because the gate looks for the question's names in the evidence's whole document."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.answer.evidence import select_evidence
from rag.answer.gate import missing_keys

pytestmark = pytest.mark.e2e

ARTICLE = """# Opposition leader detained after rally

Date: 2026-02-10

Opposition leader Lidia Ferreira Santos returned to public life this winter after two years in hiding, calling
supporters onto the streets to contest the result of the presidential election. A former engineer who entered
politics through a campaign against corruption in the state oil company, she won the opposition primary by a
wide margin and was then barred from standing by the electoral council. Her movement says the count was
falsified in hundreds of districts and has published tally sheets from polling stations to support the claim.

The government denies any fraud and has accused the movement of planning unrest. Several of its organisers were
arrested in January, and foreign governments have called for their release. The movement's rallies have grown
each week since, drawing tens of thousands of people in the capital and in the provincial cities of the south,
where the oil workers' unions have joined them. Observers from neighbouring countries were refused entry.

She was violently intercepted by security forces as she left the protest in Valdoria on Thursday evening, her
team said. Aides said she was held for two hours, made to record a video and then released. The interior
ministry said no arrest had taken place and called the account a fabrication.
"""
QUESTION = "Opposition leader Lidia Ferreira Santos was violently intercepted as she left a protest in which South American city?"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("gate")
    folder = root / "news"
    folder.mkdir()
    (folder / "opposition-leader.md").write_text(ARTICLE, encoding="utf-8")
    (folder / "harbour.md").write_text("# Harbour works\n\nDate: 2026-02-09\n\nThe harbour authority approved a new "
                                       "container quay costing 40 million euros.\n", encoding="utf-8")
    a = Assistant(Settings.from_env({}, index_dir=root / "index"))
    assert not a.ingest([folder]).failed
    yield a
    a.close()


def test_names_the_chunk_leaves_out_are_found_in_its_document(assistant: Assistant) -> None:
    hits = [h for h in assistant.search(QUESTION) if "Valdoria" in h.chunk.text]
    assert hits and not any("Santos" in h.chunk.text for h in hits)  # the answering chunk says "she"
    evidence = select_evidence(QUESTION, hits, assistant.embedder, assistant.settings)
    assert missing_keys(QUESTION, evidence) == {"lidia", "ferreira", "santo"}  # not "south", "american"
    assert missing_keys(QUESTION, evidence, lambda doc_id: assistant.document(doc_id).text) == set()


def test_the_question_is_answered_from_that_chunk(assistant: Assistant) -> None:
    answer = assistant.ask(QUESTION)
    assert not answer.refused and "Valdoria" in answer.answer
    for c in answer.citations:
        doc = assistant.document(c.doc_id)
        assert c.quote and doc.text[c.start:c.end] == c.quote
    assert answer.citations and all(Path(c.path).name == "opposition-leader.md" for c in answer.citations)
