"""The server over the real Assistant and the project's examples/: first with the real pipeline and
fake models (fast), then with the packaged models (e2e). Every cited quote must be exactly
`GET /documents/{doc_id}` text[start:end]."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from rag import Assistant, Settings
from rag.server.app import create_app
from tests.fakes import HashingEmbedder, ScriptedGenerator
from tests.server_fixtures import parse_sse, running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUESTION = "When does the coastal levy take effect?"
REPLY = "The Coastal Flood-Defence Levy will take effect on 1 January 2027 [1]."

pytestmark = pytest.mark.skipif(not any(EXAMPLES.glob("*.txt")), reason="examples/ has no documents yet")


def check_quotes(base: str, citations: list[dict], headers: dict | None = None) -> None:
    assert citations, "expected at least one citation"
    for c in citations:
        doc = httpx.get(f"{base}/documents/{c['doc_id']}", headers=headers, timeout=30).json()
        assert c["quote"] and doc["text"][c["start"]:c["end"]] == c["quote"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The real Assistant (store, retrieval, citations) with hashing embeddings and a scripted model."""
    index = tmp_path_factory.mktemp("server-pipeline") / "index"
    assistant = Assistant(Settings(index_dir=index, max_upload_mb=2), embedder=HashingEmbedder(),
                          generator=ScriptedGenerator([REPLY]))
    assert not assistant.ingest([EXAMPLES]).failed
    with running_server(create_app(assistant)) as base:
        yield base, assistant
    assistant.close()


def test_streamed_answer_cites_real_offsets(pipeline):
    base, _ = pipeline
    with httpx.stream("POST", f"{base}/ask", json={"question": QUESTION, "stream": True}, timeout=60) as response:
        events = parse_sse("".join(response.iter_text()))
    assert [name for name, _ in events][-1] == "answer" and events[0][0] == "token"
    assert "".join(json.loads(d)["text"] for n, d in events if n == "token") == REPLY
    answer = json.loads(events[-1][1])
    assert not answer["refused"]
    check_quotes(base, answer["citations"])


def test_search_documents_and_health_agree(pipeline):
    base, assistant = pipeline
    docs = httpx.get(f"{base}/documents").json()
    health = httpx.get(f"{base}/health").json()
    assert health["documents"] == len(docs) == assistant.stats()["documents"]
    hits = httpx.post(f"{base}/search", json={"question": "coastal levy", "k": 3}).json()
    assert len(hits) == 3
    for h in hits:
        text = httpx.get(f"{base}/documents/{h['doc_id']}").json()["text"]
        assert text[h["start"]:h["end"]] == h["text"]


def test_real_uploads_good_and_bad(pipeline, tmp_path):
    base, assistant = pipeline
    before = httpx.get(f"{base}/documents").json()
    broken = httpx.post(f"{base}/documents", files={"file": ("fake.pdf", b"%PDF-1.4 but nothing else")}, timeout=60)
    assert broken.status_code == 422 and broken.json()["error"]["type"] == "document_error"
    assert httpx.get(f"{base}/documents").json() == before
    note = b"Harbour pilots' briefing\n\nThe pilots' union accepted the new tide schedule on 3 May 2026.\n"
    added = httpx.post(f"{base}/documents", files={"file": ("pilots.txt", note)}, timeout=60)
    assert added.status_code == 201, added.text
    entry = added.json()
    assert entry["chunks"] >= 1 and entry["path"].endswith("/uploads/pilots.txt")
    assert httpx.get(f"{base}/documents/{entry['doc_id']}").json()["text"] == note.decode()
    hits = httpx.post(f"{base}/search", json={"question": "pilots union tide schedule", "k": 1}).json()
    assert hits[0]["doc_id"] == entry["doc_id"]
    assert httpx.delete(f"{base}/documents/{entry['doc_id']}").json() == {"removed": [entry["doc_id"]]}
    assert httpx.get(f"{base}/documents").json() == before


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The packaged embedder and LLM over a copy of examples/."""
    root = tmp_path_factory.mktemp("server-real")
    shutil.copytree(EXAMPLES, root / "examples")
    assistant = Assistant(Settings(index_dir=root / "index", api_key="e2e-key"))
    assert not assistant.ingest([root / "examples"]).failed
    with running_server(create_app(assistant)) as base:
        yield base, assistant
    assistant.close()


@pytest.mark.e2e
@pytest.mark.slow
def test_real_models_stream_an_answer_with_verified_quotes(real):
    base, _ = real
    auth = {"Authorization": "Bearer e2e-key"}
    with httpx.stream("POST", f"{base}/ask", json={"question": QUESTION, "stream": True}, headers=auth,
                      timeout=300) as response:
        assert response.status_code == 200
        events = parse_sse("".join(response.iter_text()))
    names = [name for name, _ in events]
    assert names[-1] == "answer", events[-1]
    answer = json.loads(events[-1][1])
    assert not answer["refused"] and "token" in names
    assert "2027" in answer["answer"]
    check_quotes(base, answer["citations"], auth)


@pytest.mark.e2e
@pytest.mark.slow
def test_real_models_through_the_openai_client(real):
    import openai

    base, _ = real
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="e2e-key", max_retries=0, timeout=300)
    reply = client.chat.completions.create(model="briefing-rag", messages=[{"role": "user", "content": QUESTION}])
    citations = reply.model_extra["citations"]
    text = reply.choices[0].message.content
    for c in citations:
        assert f"[{c['n']}] " in text
    check_quotes(base, citations, {"Authorization": "Bearer e2e-key"})
