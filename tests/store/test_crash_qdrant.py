"""A `kill -9` at any moment of an ingest into Qdrant (local mode): every document is in its old or
new state, the collection holds exactly the catalog's chunks (no duplicate, none lost), and a
re-run converges to what a clean ingest gives."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from tests.fakes import HashingEmbedder
from tests.store.test_crash import ROOT, _make_corpus

pytest.importorskip("qdrant_client")

_WORKER = """
import sys, time
sys.path.insert(0, {root!r})
import rag.store.writer as ing
import rag.store.qdrant as qd
from rag import Assistant, Settings
from tests.fakes import HashingEmbedder
ing.BATCH_CHUNKS = 2
qd.UPSERT_BATCH = 2
class Slow(HashingEmbedder):
    def embed(self, texts):
        time.sleep(0.01)
        return super().embed(texts)
Assistant(Settings.from_env({{}}, index_dir={index!r}, store={store!r}), embedder=Slow()).ingest([{corpus!r}])
"""


def _snapshot(index: Path, store: str) -> dict:
    a = Assistant(Settings.from_env({}, index_dir=index, store=store), embedder=HashingEmbedder())
    catalog = a._open()
    docs = {}
    for d in a.documents():
        doc = a.document(d.doc_id)
        chunks = catalog.chunks([d.doc_id])
        assert all(doc.text[c.start:c.end] == c.text for c in chunks)
        docs[d.path] = (d.sha256, tuple((c.start, c.end) for c in chunks))
    index_ = a._search_indexes()
    points, offset = [], None
    while True:
        page, offset = index_._client.scroll(index_.collection, limit=1000, offset=offset, with_payload=True)
        points += page
        if offset is None:
            break
    rowids = set(catalog.rowids_where((), None, None).tolist())
    assert {int(p.id) for p in points} == rowids, "the collection holds exactly the catalog's chunks"
    chunk_ids = [p.payload["chunk_id"] for p in points]
    assert len(chunk_ids) == len(set(chunk_ids)), "no chunk twice"
    a.close()
    return docs


def test_sigkill_during_qdrant_ingest_then_rerun_converges(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    store = f"qdrant:{tmp_path / 'qdrant'}"
    _make_corpus(corpus, 40, version=1)
    script = _WORKER.format(root=str(ROOT), index=str(index), corpus=str(corpus), store=store)
    rng = random.Random(11)
    for round_no in range(5):
        if round_no == 2:
            _make_corpus(corpus, 30, version=2)  # changed files, and 10 files left from version 1
            for extra in sorted(corpus.glob("note03*.txt")):
                extra.unlink()
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
        time.sleep(rng.uniform(1.0, 3.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (index / "manifest.json").exists():
            _snapshot(index, store)
    Assistant(Settings.from_env({}, index_dir=index, store=store), embedder=HashingEmbedder()).ingest([corpus])
    clean = tmp_path / "clean"
    clean_store = f"qdrant:{tmp_path / 'qdrant-clean'}"
    Assistant(Settings.from_env({}, index_dir=clean, store=clean_store), embedder=HashingEmbedder()).ingest([corpus])
    assert _snapshot(index, store) == _snapshot(clean, clean_store)
    a = Assistant(Settings.from_env({}, index_dir=index, store=store), embedder=HashingEmbedder())
    b = Assistant(Settings.from_env({}, index_dir=clean, store=clean_store), embedder=HashingEmbedder())
    for q in ("harbour levy", "grid battery tariff"):
        assert [h.chunk.chunk_id for h in a.search(q, k=5)] == [h.chunk.chunk_id for h in b.search(q, k=5)]
    a.close()
    b.close()
