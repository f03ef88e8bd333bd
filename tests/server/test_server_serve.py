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


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_rag_serve_stops_gracefully_and_exits_0(tmp_path, stop):
    port = _free_port()
    env = {**os.environ, "RAG_API_KEY": ""}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(tmp_path / "index"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "rag serve did not start"
                time.sleep(0.1)
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
