"""`rag serve --watch FOLDER`: the folder watch beside the server, over a real socket: a file dropped
into the folder shows in GET /documents and in searches; SIGINT stops both and exits 0. First with
the fake models (serve() in a child process), then the real `rag serve --watch` (e2e)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rag import Assistant, Settings
    from rag.server.app import serve
    from tests.fakes import HashingEmbedder, ScriptedGenerator

    index, port, folder = sys.argv[1:]
    assistant = Assistant(Settings(index_dir=Path(index), watch_debounce_ms=150), embedder=HashingEmbedder(),
                          generator=ScriptedGenerator())
    serve(assistant, port=int(port), watch=[folder])
    assistant.close()
""")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(proc: subprocess.Popen, condition, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what} not reached: {proc.communicate()[1][-3000:]}")
        time.sleep(0.1)


def _drop_a_file_and_stop(proc: subprocess.Popen, port: int, folder: Path, start_timeout: float) -> str:
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(proc, lambda: [d["path"] for d in httpx.get(f"{base}/documents", timeout=5).json()] == [str(folder / "levy.md")],
              "the initial sync",
              start_timeout)
        (folder / "ports.txt").write_text("Port note\n\nThe port of Kessel will deepen its channel to 16 metres.\n")
        docs = _wait(proc, lambda: [d for d in httpx.get(f"{base}/documents", timeout=5).json()
                                    if d["path"].endswith("ports.txt")], "the new file in GET /documents", 20)
        hits = httpx.post(f"{base}/search", json={"question": "Kessel channel", "k": 1}, timeout=60).json()
        assert hits[0]["doc_id"] == docs[0]["doc_id"]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "levy.md").write_text("# Coastal levy\n\nThe coastal levy takes effect on 1 January 2027.\n")
    return docs


def test_serve_with_a_watch_indexes_a_dropped_file_and_stops_on_sigint(tmp_path, folder):
    port = _free_port()
    env = {**os.environ, "RAG_API_KEY": "", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "index"), str(port), str(folder)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = _drop_a_file_and_stop(proc, port, folder, start_timeout=60)
    assert "watch: synced: 1 added" in err and "watch: 1 change: 1 added" in err


@pytest.mark.e2e
def test_rag_serve_watch_with_the_packaged_models(tmp_path, folder):
    port = _free_port()
    env = {**os.environ, "RAG_API_KEY": ""}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(tmp_path / "index"), "--port",
                             str(port), "--watch", str(folder)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err = _drop_a_file_and_stop(proc, port, folder, start_timeout=120)
    assert "watch: 1 change: 1 added" in err
