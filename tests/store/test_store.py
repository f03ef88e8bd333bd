from __future__ import annotations

import numpy as np
import pytest

from rag.errors import IndexMismatchError, IndexMissingError, NotFoundError
from rag.store.indexes import KeywordIndex, VectorIndex, load_or_build
from rag.store.sqlite import Store, keyword_text
from rag.types import Chunk, Document, Page


def _doc(doc_id: str, path: str, text: str, date: str | None = "2026-01-01") -> Document:
    return Document(doc_id=doc_id, path=path, title=f"T {doc_id}", date=date, text=text, sha256="s" + doc_id,
                    mtime=1.0, pages=(Page(1, 0, len(text)),), format="pdf")


def _put(store: Store, doc: Document, dim: int = 4) -> list[Chunk]:
    half = len(doc.text) // 2
    chunks = [Chunk(f"{doc.doc_id}-0", doc.doc_id, 0, doc.text[:half], 0, half, 1),
              Chunk(f"{doc.doc_id}-1", doc.doc_id, 1, doc.text[half:], half, len(doc.text), 1)]
    hashes = [f"{doc.doc_id}{c.ordinal}" for c in chunks]
    rng = np.random.default_rng(len(doc.doc_id) + len(doc.text))
    vecs = {h: (v := rng.normal(size=dim).astype(np.float32)) / np.linalg.norm(v) for h in hashes}
    store.put_documents([(doc, chunks, hashes)], vecs, "sig")
    return chunks


def test_missing_index_names_directory(tmp_path):
    with pytest.raises(IndexMissingError, match=str(tmp_path / "nope")) as err:
        Store.open(tmp_path / "nope")
    assert "rag ingest" in str(err.value)


def test_roundtrip_documents_chunks_vectors(tmp_path):
    store = Store.open(tmp_path, "emb-a", 4, "sig", create=True)
    doc = _doc("d1", "/x/a.pdf", "alpha beta gamma delta epsilon")
    chunks = _put(store, doc)
    assert store.generation == 1
    assert store.counts() == (1, 2)
    again = store.document("d1")
    assert again.text == doc.text and again.pages == doc.pages and again.format == "pdf"
    assert store.chunks(["d1"]) == chunks
    ids, vecs = store.vectors()
    assert vecs.shape == (2, 4) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    info = store.documents()[0]
    assert (info.doc_id, info.chunks, info.pages) == ("d1", 2, 1)
    assert store.resolve_doc("/x/a.pdf") == "d1"
    with pytest.raises(NotFoundError):
        store.resolve_doc("zzz")


def test_replace_and_remove_keep_ids_unique(tmp_path):
    store = Store.open(tmp_path, "emb-a", 4, "sig", create=True)
    _put(store, _doc("d1", "/x/a.pdf", "one two three four"))
    first_ids, _ = store.vectors()
    _put(store, _doc("d1", "/x/a.pdf", "five six seven eight nine"))
    second_ids, _ = store.vectors()
    assert store.counts() == (1, 2)
    assert set(first_ids).isdisjoint(second_ids), "row ids are never reused"
    store.remove_documents(["d1"])
    store.prune_embeddings()
    assert store.counts() == (0, 0)
    assert store.cached_vectors(["d10", "d11"]) == {}


def test_embedder_mismatch_says_how_to_rebuild(tmp_path):
    Store.open(tmp_path, "emb-a", 4, "sig", create=True).close()
    with pytest.raises(IndexMismatchError) as err:
        Store.open(tmp_path, "emb-b")
    assert "emb-a" in str(err.value) and "rag ingest" in str(err.value)


def test_filters_by_document_and_date(tmp_path):
    store = Store.open(tmp_path, "emb-a", 4, "sig", create=True)
    _put(store, _doc("d1", "/x/a.pdf", "one two three four", date="2025-05-01"))
    _put(store, _doc("d2", "/x/b.pdf", "five six seven eight", date="2026-05-01"))
    _put(store, _doc("d3", "/x/c.pdf", "nine ten eleven twelve", date=None))
    assert len(store.rowids_where(["d1"], None, None)) == 2
    assert len(store.rowids_where(None, "2026-01-01", None)) == 2
    assert len(store.rowids_where(None, None, "2025-12-31")) == 2
    assert len(store.rowids_where(["d1"], "2026-01-01", None)) == 0


def test_derived_indexes_are_rebuilt_when_stale(tmp_path):
    store = Store.open(tmp_path, "emb-a", 4, "sig", create=True)
    _put(store, _doc("d1", "/x/a.pdf", "lighthouse keeper storm harbour"))
    idx = load_or_build(store)
    assert (tmp_path / "vectors.g1.faiss").exists() and (tmp_path / "bm25.g1" / "ids.npy").exists()
    assert len(idx.vectors) == 2 and len(idx.keywords) == 2
    _put(store, _doc("d2", "/x/b.pdf", "orchard apples harvest cider"))
    idx2 = load_or_build(store)
    assert idx2.generation == 2 and len(idx2.vectors) == 4
    assert not (tmp_path / "vectors.g1.faiss").exists(), "older generations are cleaned up"
    rowids, scores = idx2.keywords.search("cider harvest", 5)
    rows = store.chunks_by_rowid(rowids)
    assert rows and all(rows[r][0].doc_id == "d2" for r in rowids)


def test_vector_index_filter_and_empty():
    ids = np.arange(10, 20, dtype=np.int64)
    vecs = np.eye(10, dtype=np.float32)
    index = VectorIndex.build(ids, vecs, 10)
    got, scores = index.search(vecs[3], 3)
    assert got[0] == 13 and scores[0] == pytest.approx(1.0)
    got, _ = index.search(vecs[3], 3, allowed=np.array([15, 16]))
    assert set(got) <= {15, 16}
    empty = VectorIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 10), dtype=np.float32), 10)
    assert len(empty.search(vecs[0], 3)[0]) == 0


def test_keyword_index_stems_and_ignores_unknown_words():
    index = KeywordIndex.build(np.array([7, 8]), ["Flooding defences were raised", "Batteries store energy"])
    got, scores = index.search("flood defence", 5)
    assert got.tolist() == [7] and scores[0] > 0
    assert len(index.search("zebra", 5)[0]) == 0
    assert keyword_text("Title", "Head", "body") == "Title\nHead\nbody"
