"""Export through the real models over a copy of examples/: an answer and a brief written as Markdown
and Word, read back, every quote exactly `document(doc_id).text[start:end]`; and `rag ask --export`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rag import Assistant, Settings
from rag.export import from_answer, from_brief, write_export
from tests.export.readback import docx_paragraphs, docx_sources, md_references, md_sources

pytestmark = pytest.mark.e2e
QUESTION = "When does the coastal flood-defence levy take effect?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    import shutil

    from tests.conftest import EXAMPLES

    root = tmp_path_factory.mktemp("export-e2e")
    folder = root / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("README.md"))
    assistant = Assistant(Settings.from_env({}, index_dir=root / "index"))
    assert not assistant.ingest([folder]).failed
    yield assistant, root
    assistant.close()


def check(assistant: Assistant, sources: list[dict], citations) -> None:
    assert sources, "the export holds no sources"
    by_n = {c.n: c for c in citations}
    for s in sources:
        assert s["quote"] == assistant.document(s["doc_id"]).text[s["start"]:s["end"]]
        c = by_n[s["n"]]
        assert (c.doc_id, c.start, c.end, c.quote) == (s["doc_id"], s["start"], s["end"], s["quote"])


def test_an_answer_and_a_brief_export_to_markdown_and_word_with_their_exact_quotes(indexed):
    assistant, root = indexed
    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.citations
    for result, build in ((answer, from_answer), (assistant.brief(), from_brief)):
        export = build(result, assistant.document, index_version=assistant.stats()["version"])
        md = write_export(export, root / f"{export.kind}.md")
        text = md.read_text(encoding="utf-8")
        check(assistant, md_sources(text), result.citations)
        assert set(md_references(text)) <= {c.n for c in result.citations}
        assert f"index version {assistant.stats()['version']}" in text
        word = write_export(export, root / f"{export.kind}.docx")
        check(assistant, docx_sources(word), result.citations)
        assert docx_paragraphs(word)[0].text == export.title
    assert "## Key points" in (root / "brief.md").read_text(encoding="utf-8")


def test_rag_ask_export_writes_the_file_beside_the_printed_answer(indexed):
    assistant, root = indexed
    target = root / "cli-answer.docx"
    env = {**os.environ, "RAG_INDEX": str(root / "index")}
    assistant.close()  # the CLI opens the index itself
    out = subprocess.run([sys.executable, "-m", "rag", "ask", QUESTION, "--no-stream", "--export", str(target)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert f"exported to {target}" in out.stderr and out.stdout.strip()
    sources = docx_sources(target)
    assert sources and all(s["quote"] == assistant.document(s["doc_id"]).text[s["start"]:s["end"]]
                           for s in sources)
