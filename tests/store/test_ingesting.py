from __future__ import annotations

from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.errors import IndexMismatchError, IndexMissingError
from tests.fakes import HashingEmbedder


def _assistant(index: Path, **kw) -> Assistant:
    return Assistant(Settings.from_env({}, index_dir=index, **kw), embedder=HashingEmbedder())


def test_ingest_then_unchanged_then_update_and_delete(tmp_path, corpus):
    a = _assistant(tmp_path / "idx")
    r1 = a.ingest([corpus])
    assert (r1.added, r1.updated, r1.unchanged, r1.removed, r1.documents) == (3, 0, 0, 0, 3)
    assert r1.chunks >= 3 and not r1.failed
    r2 = a.ingest([corpus])
    assert (r2.added, r2.updated, r2.unchanged, r2.removed) == (0, 0, 3, 0)
    (corpus / "ports.txt").write_text("Port authority note\n\n2025-12-01\n\nDredging is cancelled.\n")
    (corpus / "storage.txt").unlink()
    r3 = a.ingest([corpus])
    assert (r3.added, r3.updated, r3.unchanged, r3.removed, r3.documents) == (0, 1, 1, 1, 2)
    hits = a.search("dredging cancelled", k=2, mode="bm25")
    assert hits and hits[0].path.endswith("ports.txt")
    assert "cancelled" in a.document(hits[0].doc_id).text


def test_chunks_point_into_document_text(tmp_path, corpus):
    a = _assistant(tmp_path / "idx")
    a.ingest([corpus])
    for info in a.documents():
        doc = a.document(info.doc_id)
        for hit in a.search(doc.title, k=10, doc_ids=[info.doc_id]):
            assert doc.text[hit.chunk.start:hit.chunk.end] == hit.chunk.text


def test_bad_file_is_isolated_and_nothing_is_lost(tmp_path, corpus):
    a = _assistant(tmp_path / "idx")
    a.ingest([corpus])
    before = {d.doc_id: d.sha256 for d in a.documents()}
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (corpus / "empty.txt").write_text("")
    (corpus / "levy.md").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    report = a.ingest([corpus])
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert set(failed) == {"broken.pdf", "empty.txt", "levy.md"}
    assert all("\n" not in e and e for e in failed.values())
    after = {d.doc_id: d.sha256 for d in a.documents()}
    assert after == before, "the old version of a file that now fails stays indexed"


def test_same_text_is_not_embedded_twice(tmp_path, corpus):
    calls = []
    emb = HashingEmbedder()
    original = emb.embed
    emb.embed = lambda texts: (calls.append(len(texts)), original(texts))[1]
    a = Assistant(Settings.from_env({}, index_dir=tmp_path / "idx"), embedder=emb)
    a.ingest([corpus])
    first = sum(calls)
    copy = corpus / "copy"
    copy.mkdir()
    (copy / "ports.txt").write_text((corpus / "ports.txt").read_text())
    a.ingest([corpus])
    assert sum(calls) == first, "identical chunk text reuses the cached embedding"


def test_missing_index_and_embedder_mismatch(tmp_path, corpus):
    with pytest.raises(IndexMissingError):
        _assistant(tmp_path / "none").documents()
    _assistant(tmp_path / "idx").ingest([corpus])
    other = Assistant(Settings.from_env({}, index_dir=tmp_path / "idx"), embedder=HashingEmbedder(id="fake:other"))
    with pytest.raises(IndexMismatchError, match="fake:hashing-64"):
        other.search("levy")


def test_remove_by_id_or_path(tmp_path, corpus):
    a = _assistant(tmp_path / "idx")
    a.ingest([corpus])
    docs = {Path(d.path).name: d.doc_id for d in a.documents()}
    assert a.remove(docs["ports.txt"]) == [docs["ports.txt"]]
    assert a.remove(str(corpus / "levy.md")) == [docs["levy.md"]]
    assert [Path(d.path).name for d in a.documents()] == ["storage.txt"]
    assert all(h.doc_id == docs["storage.txt"] for h in a.search("port levy storage", k=5))


def test_filters_and_modes(tmp_path, corpus):
    a = _assistant(tmp_path / "idx")
    a.ingest([corpus])
    docs = {Path(d.path).name: d for d in a.documents()}
    assert docs["levy.md"].date == "2026-03-02" and docs["ports.txt"].date == "2025-11-20"
    only = a.search("levy storage port", k=5, doc_ids=[docs["ports.txt"].doc_id])
    assert {h.doc_id for h in only} == {docs["ports.txt"].doc_id}
    recent = a.search("levy storage port", k=5, since="2026-01-01")
    assert {Path(h.path).name for h in recent} <= {"levy.md", "storage.txt"}
    old = a.search("levy storage port", k=5, until="2025-12-31")
    assert {Path(h.path).name for h in old} == {"ports.txt"}
    for mode in ("dense", "bm25", "hybrid"):
        hits = a.search("battery storage target", k=3, mode=mode)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert hits[0].path.endswith("storage.txt"), mode


def test_reingest_with_other_chunking_rechunks(tmp_path, corpus):
    _assistant(tmp_path / "idx").ingest([corpus])
    r = _assistant(tmp_path / "idx", chunk_tokens=60, chunk_overlap=10).ingest([corpus])
    assert r.updated == 3


def test_manifest_records_the_vector_index_settings(tmp_path, corpus):
    import json

    a = _assistant(tmp_path / "idx")
    a.ingest([corpus])
    a.search("levy", k=1)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    chunks = a.stats()["chunks"]
    assert manifest["vector_index"] == {"kind": "flat", "vectors": chunks, "dim": a.embedder.dim}
    assert manifest["embedder"]["id"] == a.embedder_id
