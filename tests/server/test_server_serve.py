"""serve(): the loopback/key rule, a taken port, and `rag serve` stopping cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from rag.errors import ConfigError
from rag.server.app import is_loopback, serve
from tests.server_fixtures import fake_assistant


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


def _start_serve(tmp_path, port: int, **env: str) -> tuple[subprocess.Popen, httpx.Response]:
    """`rag serve` on `port` with extra environment variables, once it answers /health."""
    env = {**os.environ, "RAG_API_KEY": "", **env}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(tmp_path / "index"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
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
