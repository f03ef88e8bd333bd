"""The Qdrant store beyond the shared contract: catching up with the catalog, refusals and
unreachable servers as one clear error, and a real server when RAG_TEST_QDRANT_URL names one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.embed.embedder import embedder_id
from rag.errors import ConfigError, IndexMismatchError, StoreUnavailableError
from rag.store.qdrant import SYNC_FILE
from tests.fakes import HashingEmbedder

pytest.importorskip("qdrant_client")
ROOT = Path(__file__).resolve().parents[2]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return super().embed(texts)


def _qdrant(tmp_path: Path, index: str = "idx", embedder=None, **kw) -> Assistant:
    settings = Settings.from_env({}, index_dir=tmp_path / index, store=f"qdrant:{tmp_path / 'qdrant'}", **kw)
    return Assistant(settings, embedder=embedder or HashingEmbedder())


def test_a_local_index_moves_to_qdrant_without_re_embedding(tmp_path, corpus):
    Assistant(Settings.from_env({}, index_dir=tmp_path / "idx"), embedder=HashingEmbedder()).ingest([corpus])
    emb = CountingEmbedder()
    a = _qdrant(tmp_path, embedder=emb)
    hits = a.search("grid battery storage", k=3, mode="bm25")
    assert hits[0].path.endswith("storage.txt")
    assert a._search_indexes().stats()["chunks"] == a.stats()["chunks"]
    assert emb.texts == 0, "points are written from the catalog's stored vectors"
    a.close()


def test_a_rebuilt_catalog_does_not_inherit_the_old_points(tmp_path, corpus):
    a = _qdrant(tmp_path)
    a.ingest([corpus])
    a.close()
    shutil.rmtree(tmp_path / "idx")  # rowids start again at 1 in the new catalog
    (corpus / "levy.md").unlink()
    b = _qdrant(tmp_path)
    b.ingest([corpus])
    assert b._search_indexes().stats()["chunks"] == b.stats()["chunks"]
    assert all(not h.path.endswith("levy.md") for h in b.search("coastal flood levy", k=10))
    b.close()


def test_a_lost_sync_record_or_a_wiped_collection_is_repaired_on_open(tmp_path, corpus):
    a = _qdrant(tmp_path)
    a.ingest([corpus])
    chunks = a.stats()["chunks"]
    client = a._search_indexes()._client
    client.delete_collection("briefing_rag")
    a.close()
    b = _qdrant(tmp_path)
    assert b._search_indexes().stats()["chunks"] == chunks
    b.close()
    (tmp_path / "idx" / SYNC_FILE).unlink()
    c = _qdrant(tmp_path)
    assert c._search_indexes().stats()["chunks"] == chunks
    assert c.search("port channel dredging", k=1)[0].path.endswith("ports.txt")
    c.close()


def test_a_collection_of_another_dimension_is_a_mismatch(tmp_path, corpus):
    _qdrant(tmp_path).ingest([corpus])
    other = _qdrant(tmp_path, index="idx2", embedder=HashingEmbedder(dim=32, id="fake:32"))
    with pytest.raises(IndexMismatchError, match="64-dimension"):
        other.ingest([corpus])


def test_a_qdrant_folder_held_by_another_process_is_one_clear_error(tmp_path, corpus):
    a = _qdrant(tmp_path)
    a.ingest([corpus])
    b = _qdrant(tmp_path, index="idx")
    b.close()
    try:
        code = ("import sys; sys.path.insert(0, {root!r}); from rag import Assistant, Settings; "
                "from tests.fakes import HashingEmbedder; "
                "Assistant(Settings.from_env({{}}, index_dir={idx!r}, store={uri!r}), "
                "embedder=HashingEmbedder()).search('levy')")
        proc = subprocess.run([sys.executable, "-c", code.format(root=str(ROOT), idx=str(tmp_path / "idx"),
                                                                 uri=a.settings.store)],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and "StoreUnavailableError" in proc.stderr
        assert "open in another process" in proc.stderr
    finally:
        a.close()


def test_a_bad_store_uri_is_a_config_error():
    for bad in ("qdrant:", "qdrant", "ftp://x", "http://"):
        with pytest.raises(ConfigError, match="--store"):
            Settings.from_env({}, store=bad)
    assert Settings.from_env({"RAG_STORE": "http://db:6333"}).store == "http://db:6333"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


class _Refusing(BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        body = json.dumps({"status": {"error": "Invalid API key or JWT"}}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _refuse

    def log_message(self, *args) -> None:
        pass


def test_a_refusing_or_unreachable_server_is_one_error_line_naming_the_uri(tmp_path, corpus):
    index = tmp_path / "idx"
    real_id = embedder_id(Settings.from_env({}))  # the CLI's embedder, named but never loaded here
    Assistant(Settings.from_env({}, index_dir=index), embedder=HashingEmbedder(id=real_id)).ingest([corpus])
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    refusing = f"http://127.0.0.1:{server.server_address[1]}"
    with socket_closed() as port:
        unreachable = f"http://127.0.0.1:{port}"
        try:
            for uri, words in ((refusing, "refused"), (unreachable, "unreachable")):
                with pytest.raises(StoreUnavailableError, match=words):
                    a = Assistant(Settings.from_env({}, index_dir=index, store=uri),
                                  embedder=HashingEmbedder(id=real_id))
                    a.search("levy")
                proc = _cli("search", "levy", "--index", str(index), "--store", uri)
                lines = proc.stderr.strip().splitlines()
                assert proc.returncode == 1 and len(lines) == 1, proc.stderr
                assert lines[0].startswith("Error: Qdrant at " + uri) and words in lines[0]
            assert "RAG_QDRANT_API_KEY" in _cli("search", "levy", "--index", str(index), "--store",
                                                refusing).stderr
        finally:
            server.shutdown()


class socket_closed:
    """A local port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.skipif(not os.environ.get("RAG_TEST_QDRANT_URL"), reason="set RAG_TEST_QDRANT_URL to a Qdrant server")
def test_a_real_qdrant_server(tmp_path, corpus):
    url = os.environ["RAG_TEST_QDRANT_URL"]
    collection = f"rag_test_{os.getpid()}"
    a = Assistant(Settings.from_env({}, index_dir=tmp_path / "idx", store=url, qdrant_collection=collection,
                                    qdrant_api_key=os.environ.get("RAG_QDRANT_API_KEY")), embedder=HashingEmbedder())
    try:
        a.ingest([corpus])
        assert a._search_indexes().stats()["chunks"] == a.stats()["chunks"]
        assert a.search("grid battery storage", k=1)[0].path.endswith("storage.txt")
        dated = a.search("levy port storage", k=10, since="2026-01-01", until="2026-02-28")
        assert {h.date for h in dated} == {"2026-01-14"}
        (corpus / "ports.txt").write_text("Port authority note\n\n2025-12-01\n\nDredging is cancelled.\n")
        a.ingest([corpus])
        assert a._search_indexes().stats()["chunks"] == a.stats()["chunks"]
    finally:
        a._search_indexes()._client.delete_collection(collection)
        a.close()
