"""Batch ingest on Ray Data (`rag ingest --ray`): a local Ray, the real embedder, both stores.

What a Ray ingest writes must be exactly what the plain ingest writes (documents, chunks, offsets,
vectors), failures listed the same way, and the incremental contract kept: unchanged files are not
sent to the workers at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.cli.main import _ray_address
from rag.store.sqlite import Store

ROOT = Path(__file__).resolve().parents[2]


def _catalog(index: Path) -> tuple[dict, dict]:
    """(doc_id -> (title, date, text, chunks with offsets), chunk_id -> stored vector)."""
    store = Store.open(index, None)
    docs = {}
    for info in store.documents():
        doc = store.document(info.doc_id)
        chunks = store.chunks([doc.doc_id])
        docs[info.doc_id] = (doc.title, doc.date, doc.text,
                             [(c.chunk_id, c.start, c.end, c.page, c.heading, c.text) for c in chunks])
    rowids, vectors = store.vectors()
    by_rowid = store.chunks_by_rowid(rowids)
    by_chunk = {by_rowid[int(r)][0].chunk_id: v for r, v in zip(rowids, vectors)}
    store.close()
    return docs, by_chunk


def test_ray_address_forms():
    for good in ("local", "auto", "ray://head:10001", "10.0.0.5:6379", "head.example:6379"):
        assert _ray_address(good) == good
    for bad in ("examples", "/tmp/folder", "http://head:6379", "head:port"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a Ray address"):
            _ray_address(bad)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_ray_ingest_writes_what_the_plain_ingest_writes(tmp_path, corpus):
    pytest.importorskip("ray")
    (corpus / "broken.pdf").write_bytes(b"not a pdf at all")
    plain = Assistant(Settings(index_dir=str(tmp_path / "plain")))
    on_ray = Assistant(Settings(index_dir=str(tmp_path / "ray")))
    want = plain.ingest([corpus])
    got = on_ray.ingest([corpus], ray="local")
    assert (got.added, got.updated, got.unchanged, got.documents, got.chunks) == (
        want.added, want.updated, want.unchanged, want.documents, want.chunks) == (3, 0, 0, 3, want.chunks)
    assert [(f.path, f.error) for f in got.failed] == [(f.path, f.error) for f in want.failed]
    assert got.failed and got.failed[0].path.endswith("broken.pdf")
    plain.close()
    on_ray.close()
    docs_ray, vectors_ray = _catalog(tmp_path / "ray")
    docs_plain, vectors_plain = _catalog(tmp_path / "plain")
    assert docs_ray == docs_plain
    assert sorted(vectors_ray) == sorted(vectors_plain) and len(vectors_ray) == want.chunks
    for chunk_id, vector in vectors_plain.items():
        assert np.allclose(vectors_ray[chunk_id], vector, atol=1e-5)

    # an edit, an unchanged file and a removal: only the edited file goes to the workers
    (corpus / "ports.txt").write_text("Port authority note\n\n2025-11-21\n\nThe port of Kessel postponed dredging.\n")
    (corpus / "storage.txt").unlink()
    again = Assistant(Settings(index_dir=str(tmp_path / "ray")))
    report = again.ingest([corpus], ray="local")
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 1)
    hits = again.search("Kessel dredging postponed", k=1)
    assert "postponed" in hits[0].chunk.text
    again.close()


@pytest.mark.e2e
@pytest.mark.slow
def test_rag_ingest_ray_into_qdrant_then_ask(tmp_path, corpus):
    """The CLI end to end: `rag ingest --ray` into `qdrant:PATH`, then a search and a verified answer."""
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_client")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_STORE")}
    store = f"qdrant:{tmp_path / 'qdrant'}"

    def rag(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", *args, "--index", str(tmp_path / "idx"), "--store", store],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)

    ingest = rag("ingest", str(corpus), "--json", "--ray")
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    assert (report["added"], report["documents"], report["failed"]) == (3, 3, [])
    hits = json.loads(rag("search", "grid battery storage target", "-k", "1", "--json").stdout)
    assert hits[0]["path"].endswith("storage.txt")
    ask = rag("ask", "When will the coastal flood levy take effect?", "--json", "--no-stream")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"] and "1 January 2027" in " ".join(c["quote"] for c in answer["citations"])


@pytest.mark.e2e
def test_an_unreachable_cluster_is_one_error_naming_it(tmp_path, corpus):
    pytest.importorskip("ray")
    out = subprocess.run([sys.executable, "-m", "rag", "ingest", str(corpus), "--ray", "127.0.0.1:9",
                          "--index", str(tmp_path / "idx")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: Ray at 127.0.0.1:9 ") and "Traceback" not in out.stderr



@pytest.mark.e2e
def test_a_worker_whose_embedder_differs_from_the_index_is_a_model_error(tmp_path, corpus):
    pytest.importorskip("ray")
    from rag.errors import ModelError
    from rag.store.ray_ingest import ingest_on_ray

    settings = Settings(index_dir=str(tmp_path / "idx"))
    store = Store.open(tmp_path / "idx", "another/embedder", 384, "structure-v3/200/40", create=True)
    with store.writer(), pytest.raises(ModelError, match="a Ray worker's embedder is .*, the index's another/embedder"):
        ingest_on_ray(store, settings, "another/embedder", [corpus])
    assert store.counts() == (0, 0)
    store.close()


@pytest.mark.parametrize(("files", "slots", "per_task"), [
    (1, 1, 16), (60, 1, 16), (1000, 1, 250), (3000, 1, 256), (1000, 8, 32), (1_000_000, 64, 256), (200, 50, 16)])
def test_files_per_task(files, slots, per_task):
    from rag.store.ray_ingest import files_per_task

    assert files_per_task(files, slots) == per_task
