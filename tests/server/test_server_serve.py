"""serve(): the loopback/key rule, a taken port, and `rag serve` stopping cleanly on SIGTERM/SIGINT,
also while an answer streams."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from rag.errors import ConfigError
from rag.generate.generator import MODEL_LOCK
from rag.server.app import create_app, is_loopback, serve
from tests import server_fixtures
from tests.server_fixtures import fake_assistant, parse_sse, running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def fake(tmp_path):
    return fake_assistant(tmp_path / "index")


# -- serve() -------------------------------------------------------------------------------------
@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_address_without_a_key(fake):
    with pytest.raises(ConfigError, match="without an API key"):
        serve(fake, host="0.0.0.0", port=0)


def test_serve_reports_a_taken_port(fake):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            serve(fake, host="127.0.0.1", port=taken.getsockname()[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_serve(tmp_path, port: int, index: Path | None = None, **env: str) -> tuple[subprocess.Popen, httpx.Response]:
    """`rag serve` on `port` with extra environment variables, once it answers /health."""
    env = {**os.environ, "RAG_API_KEY": "", **env}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(index or tmp_path / "index"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while True:
        try:
            return proc, httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"rag serve did not start: {proc.communicate()[1]}") from None
            time.sleep(0.1)


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_rag_serve_stops_gracefully_and_exits_0(tmp_path, stop):
    port = _free_port()
    proc, health = _start_serve(tmp_path, port)
    try:
        assert health.json() == {"status": "ok", "documents": 0, "chunks": 0}
        proc.send_signal(getattr(signal, stop))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err and f"http://127.0.0.1:{port}/" in err


def test_rag_serve_on_a_public_address_without_a_key_is_an_error(tmp_path):
    env = {**os.environ, "RAG_API_KEY": ""}
    done = subprocess.run([sys.executable, "-m", "rag", "serve", "--index", str(tmp_path), "--host", "0.0.0.0",
                           "--port", "0"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: refusing to listen on 0.0.0.0 without an API key")


def test_rag_serve_applies_the_read_timeout_and_body_limit_settings(tmp_path):
    port = _free_port()
    proc, _ = _start_serve(tmp_path, port, RAG_READ_TIMEOUT_S="1", RAG_MAX_BODY_KB="1")
    try:
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            slow.settimeout(4)
            started = time.monotonic()
            try:
                while slow.recv(65536):
                    pass
            except socket.timeout:
                raise AssertionError("a request with unfinished headers was kept open") from None
            assert time.monotonic() - started < 4
        big = httpx.post(f"http://127.0.0.1:{port}/search", json={"question": "x" * 2000}, timeout=10)
        assert big.status_code == 413 and big.json()["error"]["type"] == "too_large"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# -- stopping while an answer streams -------------------------------------------------------------
def test_shutdown_ends_a_stream_whose_tokens_never_pause_and_frees_the_model(fake, monkeypatch):
    monkeypatch.setattr(server_fixtures, "TOKENS", server_fixtures.TOKENS * 400)
    fake.token_delay = 0.01  # a token every 10 ms: the stream is never quiet for a whole poll interval
    app = create_app(fake)
    with running_server(app) as base:
        with httpx.stream("POST", f"{base}/ask", json={"question": "q", "stream": True}, timeout=60) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: token"
            app.state.gate.stopping.set()  # what serve() does on SIGTERM/SIGINT
            events = parse_sse("event: token\n" + "\n".join(lines))
        gate = app.state.gate
        assert gate.join_workers(30) == 0
    assert events[-1][0] == "error" and json.loads(events[-1][1])["error"]["type"] == "shutting_down"
    assert len(events) < len(server_fixtures.TOKENS)  # not streamed to its end
    assert fake.finished == ["ClientGone"] and gate.ended_by_shutdown == 1 and gate.admitted == 0
    assert MODEL_LOCK.acquire(timeout=5)
    MODEL_LOCK.release()


class _EndlessLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible LLM server whose reply reads the levy statement out, 50 words a second."""

    hung_up = threading.Event()  # rag serve closed the reply before its end

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "endless"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = re.findall(r"\S+\s*", (EXAMPLES / "2026-04-16-ministry-levy-postponed.txt").read_text())
        try:
            for word in words[40:]:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.02)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            type(self).hung_up.set()


@pytest.fixture(scope="module")
def examples_index(tmp_path_factory) -> Path:
    """examples/ ingested by `rag ingest` with the packaged embedder."""
    index = tmp_path_factory.mktemp("serve-stop") / "index"
    done = subprocess.run([sys.executable, "-m", "rag", "ingest", str(EXAMPLES), "--index", str(index)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return index


@pytest.fixture
def endless_llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EndlessLLM)
    _EndlessLLM.hung_up.clear()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.parametrize(("route", "stop"), [("/ask", "SIGINT"), ("/v1/chat/completions", "SIGTERM")])
def test_stopping_rag_serve_while_an_answer_streams_ends_the_stream_cleanly(tmp_path, examples_index, endless_llm,
                                                                            route, stop):
    question = "When will the Coastal Flood-Defence Levy take effect?"
    body = ({"question": question, "stream": True} if route == "/ask"
            else {"messages": [{"role": "user", "content": question}], "stream": True})
    port = _free_port()
    proc, _ = _start_serve(tmp_path, port, index=examples_index, RAG_LLM_URL=endless_llm)
    try:
        received, signalled = [], False
        with httpx.stream("POST", f"http://127.0.0.1:{port}{route}", json=body, timeout=300) as response:
            assert response.status_code == 200
            for line in response.iter_lines():  # raises if the server cuts the body short
                received.append(line)
                if line in ("event: token", ": keep-alive") and not signalled:
                    proc.send_signal(getattr(signal, stop))  # tokens are flowing: stop the server
                    signalled = True
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = parse_sse("\n".join(received))
    if route == "/ask":
        kind, data = events[-1]
        assert kind == "error" and json.loads(data)["error"]["type"] == "shutting_down"
        assert not any(kind == "answer" for kind, _ in events)
    else:
        assert events[-1][1] == "[DONE]"
        assert json.loads(events[-2][1])["error"]["type"] == "shutting_down"
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "timeout graceful shutdown exceeded" not in err
    assert [line for line in err.splitlines() if "shutdown:" in line] == [
        "INFO:     shutdown: 1 open answer ended with a shutting_down error"]
    assert _EndlessLLM.hung_up.wait(10)  # the generation was stopped, not read to its end
