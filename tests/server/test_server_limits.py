"""rag.server.limits over real sockets: slow headers and short bodies are cut off after the read
timeout, bodies over the limit are a 413 JSON, and neither rule touches uploads or long streams."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.server.app import create_app
from rag.server.limits import uvicorn_options
from tests.server_fixtures import fake_assistant, parse_sse, running_server

TIMEOUT = 1.0
MARGIN = 2.0


@pytest.fixture
def fake(tmp_path: Path):
    return fake_assistant(tmp_path / "index")


def served(fake: Any, **changes: Any) -> Any:
    """The app of `fake` with some settings changed, served as `rag serve` serves it."""
    fake.settings = dataclasses.replace(fake.settings, **changes)
    return running_server(create_app(fake), **uvicorn_options(fake.settings))


def address(base: str) -> tuple[str, int]:
    return "127.0.0.1", int(base.rsplit(":", 1)[1])


def until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    data = b""
    sock.settimeout(limit_s)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except socket.timeout:
        raise AssertionError(f"the server kept the connection open for {limit_s} s; it sent {data[:200]!r}") from None
    except ConnectionResetError:
        pass
    return data, time.monotonic() - started


def response_json(data: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def slow_server(fake) -> Iterator[str]:
    with served(fake, read_timeout_s=TIMEOUT) as base:
        yield base


def test_slow_and_idle_connections_are_closed_after_the_read_timeout(slow_server):
    with ExitStack() as stack:
        slow = [stack.enter_context(socket.create_connection(address(slow_server))) for _ in range(20)]
        for sock in slow:
            sock.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        idle = stack.enter_context(socket.create_connection(address(slow_server)))
        started = time.monotonic()
        for sock in slow:
            data, _ = until_closed(sock, TIMEOUT + MARGIN)
            assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data
        assert until_closed(idle, TIMEOUT + MARGIN)[0] == b""
        assert TIMEOUT * 0.8 <= time.monotonic() - started <= TIMEOUT + MARGIN
    assert httpx.get(f"{slow_server}/health").status_code == 200  # the server itself is fine


def test_slow_headers_on_a_kept_alive_connection_are_cut_off_too(slow_server):
    with socket.create_connection(address(slow_server)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(5)
        first = b""
        while not first.endswith(b"}"):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        data, took = until_closed(sock, TIMEOUT + MARGIN)
    assert data == b"" or data.startswith(b"HTTP/1.1 408 ")
    assert took >= TIMEOUT * 0.8


def test_a_body_shorter_than_its_content_length_is_a_408(slow_server):
    with socket.create_connection(address(slow_server)) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"question\": ")
        data, took = until_closed(sock, TIMEOUT + MARGIN)
    status, body = response_json(data)
    assert status == 408 and body["error"]["type"] == "timeout" and "RAG_READ_TIMEOUT_S" in body["error"]["message"]
    assert took >= TIMEOUT * 0.8


def test_a_stream_may_outlast_the_read_timeout(fake, slow_server):
    fake.token_delay = 0.4  # five tokens: twice the read timeout
    with httpx.stream("POST", f"{slow_server}/ask", json={"question": "When?", "stream": True}, timeout=30) as response:
        events = parse_sse("".join(response.iter_text()))
    assert [name for name, _ in events][-1] == "answer"


def test_a_body_over_the_limit_is_a_413_json_and_uploads_keep_their_own_limit(fake):
    with served(fake, max_body_kb=1) as base:
        big = {"question": "levy", "doc_ids": ["a" * 2000]}
        declared = httpx.post(f"{base}/search", json=big)
        assert declared.status_code == 413
        error = declared.json()["error"]
        assert error["type"] == "too_large" and "1 KiB" in error["message"] and "RAG_MAX_BODY_KB" in error["message"]
        assert declared.headers["connection"] == "close"
        pieces = [b'{"question": "levy", "doc_ids": ["', b"a" * 800, b"a" * 800, b'"]}']
        chunked = httpx.post(f"{base}/search", content=iter(pieces), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413 and chunked.json()["error"]["type"] == "too_large"
        assert httpx.post(f"{base}/search", json={"question": "levy"}).status_code == 200
        upload = httpx.post(f"{base}/documents", files={"file": ("note.txt", b"The harbour levy. " * 200)})
        assert upload.status_code == 201, upload.text
        with socket.create_connection(address(base)) as sock:  # answered at once, the body never read
            sock.sendall(b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 104857600\r\n\r\n")
            data, took = until_closed(sock, MARGIN)
        assert response_json(data)[0] == 413 and took < MARGIN


def test_the_limits_are_settings():
    settings = Settings.from_env({"RAG_READ_TIMEOUT_S": "2.5", "RAG_MAX_BODY_KB": "64"})
    assert settings.read_timeout_s == 2.5 and settings.max_body_kb == 64
    assert Settings().read_timeout_s == 10.0 and Settings().max_body_kb == 1024
    with pytest.raises(ConfigError, match="read_timeout_s"):
        Settings.from_env({"RAG_READ_TIMEOUT_S": "0"})
    with pytest.raises(ConfigError, match="max_body_kb"):
        Settings.from_env({"RAG_MAX_BODY_KB": "0"})
