"""The store protocol's contract, run against both adapters: the local FAISS + bm25s files and
Qdrant (local mode, `qdrant:PATH`). Same library calls, same results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.store.backend import ChunkFilter, ChunkIndex
from tests.fakes import HashingEmbedder

pytest.importorskip("qdrant_client")

STORES = ["local", "qdrant"]


def _settings(tmp_path: Path, store: str) -> Settings:
    uri = "local" if store == "local" else f"qdrant:{tmp_path / 'qdrant'}"
    return Settings.from_env({}, index_dir=tmp_path / "idx", store=uri)


@pytest.fixture(params=STORES)
def assistant(request, tmp_path, corpus):
    a = Assistant(_settings(tmp_path, request.param), embedder=HashingEmbedder())
    a.ingest([corpus])
    yield a
    a.close()


def _chunk_ids(a: Assistant) -> set[str]:
    return {c.chunk_id for c in a._open().chunks()}


def _rowids(a: Assistant) -> set[int]:
    return set(a._open().rowids_where((), None, None).tolist())


def test_the_index_is_a_chunk_index_that_holds_every_catalog_chunk(assistant):
    index = assistant._search_indexes()
    assert isinstance(index, ChunkIndex)
    stats = index.stats()
    assert stats["chunks"] == assistant.stats()["chunks"] > 0
    assert stats["store"] == assistant.settings.store
    assert index.generation == assistant.stats()["version"]


def test_dense_and_keyword_search_through_the_protocol(assistant):
    store, index, emb = assistant._open(), assistant._search_indexes(), assistant.embedder
    dense, bm25 = index.candidates(store, emb.embed_query("grid battery storage target"), "grid battery storage",
                                   10, ChunkFilter())
    rows = store.chunks_by_rowid(list(dense) + list(bm25))
    best_dense = max(dense, key=dense.get)
    best_bm25 = max(bm25, key=bm25.get)
    assert rows[best_dense][1].endswith("storage.txt") and rows[best_bm25][1].endswith("storage.txt")
    assert all(-1.0001 <= s <= 1.0001 for s in dense.values()) and all(s > 0 for s in bm25.values())
    only_dense = index.candidates(store, emb.embed_query("levy"), None, 5, ChunkFilter())
    only_words = index.candidates(store, None, "levy", 5, ChunkFilter())
    assert only_dense[1] == {} and only_words[0] == {} and only_words[1]
    assert index.candidates(store, None, "the of and", 5, ChunkFilter()) == ({}, {})


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_filters_by_document_and_date(assistant, mode):
    docs = {Path(d.path).name: d.doc_id for d in assistant.documents()}
    hits = assistant.search("levy storage port", k=10, mode=mode, doc_ids=[docs["ports.txt"]])
    assert hits and {h.doc_id for h in hits} == {docs["ports.txt"]}
    dated = assistant.search("levy storage port dredging battery", k=10, mode=mode, since="2026-01-01",
                             until="2026-02-28")
    assert dated and {h.date for h in dated} == {"2026-01-14"}
    assert assistant.search("levy", k=5, mode=mode, since="2030-01-01") == []


def test_replace_a_document_keeps_no_old_chunk(assistant, corpus):
    before = _rowids(assistant)
    (corpus / "ports.txt").write_text("Port authority note\n\n2025-12-01\n\nDredging is cancelled for good.\n")
    report = assistant.ingest([corpus])
    assert report.updated == 1
    after = _chunk_ids(assistant)
    index = assistant._search_indexes()
    assert index.stats()["chunks"] == len(after)
    hits = assistant.search("dredging cancelled channel Kessel", k=10)
    assert hits[0].path.endswith("ports.txt") and "cancelled" in hits[0].chunk.text
    assert all(h.chunk.chunk_id in after for h in hits)
    assert not any("16 metres" in h.chunk.text for h in hits)
    assert len(_rowids(assistant) - before) == 1, "the new version's chunk is a new row (a new point)"


def test_remove_drops_the_documents_points(assistant):
    doc = next(d for d in assistant.documents() if d.path.endswith("levy.md"))
    assert assistant.remove(doc.doc_id) == [doc.doc_id]
    index = assistant._search_indexes()
    assert index.stats()["chunks"] == assistant.stats()["chunks"]
    assert all(h.doc_id != doc.doc_id for h in assistant.search("coastal flood levy exempt farmers", k=10))


def test_both_stores_rank_alike(tmp_path, corpus):
    """Same chunks, same embeddings: the dense ranking is the same; BM25 (fixed average length
    in Qdrant's sparse vectors) agrees on the best hit."""
    runs = {}
    for store in STORES:
        a = Assistant(_settings(tmp_path / store, store), embedder=HashingEmbedder())
        a.ingest([corpus])
        runs[store] = {mode: [h.chunk.chunk_id for h in a.search(q, k=5, mode=mode)]
                       for mode in ("dense", "bm25", "hybrid") for q in ["coastal levy exemptions"]}
        a.close()
    assert runs["local"]["dense"] == runs["qdrant"]["dense"]
    assert runs["local"]["bm25"][0] == runs["qdrant"]["bm25"][0]
    assert runs["local"]["hybrid"][0] == runs["qdrant"]["hybrid"][0]


def test_qdrant_scores_match_faiss_cosine(tmp_path, corpus):
    a = Assistant(_settings(tmp_path, "qdrant"), embedder=HashingEmbedder())
    a.ingest([corpus])
    store = a._open()
    query = a.embedder.embed_query("port channel")
    dense, _ = a._search_indexes().candidates(store, query, None, 50, ChunkFilter())
    ids, vecs = store.vectors(list(dense))
    np.testing.assert_allclose([dense[i] for i in ids.tolist()], vecs @ query, atol=1e-5)
    a.close()
