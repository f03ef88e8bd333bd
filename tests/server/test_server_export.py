"""POST /export over a real socket with the fake Assistant: the result JSON the page holds comes back
as a Markdown or Word attachment, every quote checked; stale or malformed results are 4xx."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from rag.server.app import create_app
from tests.export.readback import md_sources
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, UNSUPPORTED, fake_assistant, running_server

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def served(tmp_path: Path):
    fake = fake_assistant(tmp_path / "index")
    with running_server(create_app(fake)) as base:
        yield base, fake


def test_an_answer_comes_back_as_markdown_with_its_checked_quotes(served):
    base, fake = served
    answer = httpx.post(f"{base}/ask", json={"question": "When does the levy start?"}).json()
    response = httpx.post(f"{base}/export", json={"format": "md", "answer": answer})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="answer-') and disposition.endswith('-when-does-the-levy-start.md"')
    text = response.text
    assert text.startswith("# When does the levy start?\n") and f"index version {fake.version}" in text
    assert f"{SUPPORTED}[^1]" in text and text.split("## Not verified")[1].count(UNSUPPORTED) == 1
    assert [s["quote"] for s in md_sources(text)] == [answer["citations"][0]["quote"]]
    assert md_sources(text)[0]["quote"] in LEVY_TEXT


def test_a_brief_and_a_summary_come_back_as_word_files(served):
    import docx

    base, _ = served
    brief = httpx.post(f"{base}/brief", json={}).json()
    response = httpx.post(f"{base}/export", json={"format": "docx", "brief": brief, "title": "Brief: all documents"})
    assert response.status_code == 200 and response.headers["content-type"] == DOCX
    paragraphs = [p.text for p in docx.Document(io.BytesIO(response.content)).paragraphs]
    assert paragraphs[0] == "Brief: all documents" and "Actors and their positions" in paragraphs
    assert brief["citations"][0]["quote"] in paragraphs
    summary = httpx.post(f"{base}/summarize", json={}).json()
    response = httpx.post(f"{base}/export", json={"format": "docx", "answer": summary})
    assert response.status_code == 200 and 'filename="summary-' in response.headers["content-disposition"]


def test_a_stale_or_edited_quote_is_refused_with_409(served):
    base, fake = served
    answer = httpx.post(f"{base}/ask", json={"question": "When does the levy start?"}).json()
    answer["citations"][0]["quote"] = "The levy was cancelled."
    response = httpx.post(f"{base}/export", json={"format": "md", "answer": answer})
    assert response.status_code == 409 and response.json()["error"]["type"] == "stale_citation"
    assert "changed since" in response.json()["error"]["message"]


@pytest.mark.parametrize("body, status", [
    ({"format": "pdf", "answer": {}}, 422),
    ({"format": "md"}, 422),
    ({"format": "md", "answer": {}, "brief": {"coverage": {"documents": 0, "chunks_read": 0, "chunks_total": 0}}}, 422),
    ({"format": "md", "answer": {"sentences": [{"text": "x", "citations": [4], "supported": True}]}}, 422),
])
def test_malformed_requests_are_422(served, body, status):
    base, _ = served
    response = httpx.post(f"{base}/export", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


def test_export_is_in_the_api_docs_and_needs_the_key(tmp_path):
    fake = fake_assistant(tmp_path / "index", api_key="k")
    with running_server(create_app(fake)) as base:
        schema = httpx.get(f"{base}/openapi.json", headers={"Authorization": "Bearer k"}).json()
        route = schema["paths"]["/export"]["post"]
        assert set(route["responses"]["200"]["content"]) == {"text/markdown; charset=utf-8", DOCX}
        assert "ExportRequest" in schema["components"]["schemas"]
        assert httpx.post(f"{base}/export", json={"format": "md", "answer": {}}).status_code == 401
