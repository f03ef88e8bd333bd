"""Generator adapters: llama.cpp (real GGUF) and OpenAI-compatible HTTP (a local scripted server)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from rag.config import Settings
from rag.errors import GenerationError, ModelError
from rag.generate.generator import (
    Generator,
    LlamaCppGenerator,
    OpenAICompatibleGenerator,
    _sse_deltas,
    api_base,
    file_sha256_prefix,
    load_generator,
)


def test_api_base_accepts_urls_with_or_without_v1() -> None:
    for url in ("http://h:8080", "http://h:8080/", "http://h:8080/v1", "http://h:8080/v1/chat/completions"):
        assert api_base(url) == "http://h:8080/v1"


def test_load_generator_picks_the_adapter_and_caches_it(tmp_path: Path) -> None:
    remote = load_generator(Settings(llm_url="http://127.0.0.1:9/v1", llm_model="m"))
    assert isinstance(remote, OpenAICompatibleGenerator) and isinstance(remote, Generator)
    assert load_generator(Settings(llm_url="http://127.0.0.1:9/v1", llm_model="m", k=9)) is remote
    local = load_generator(Settings(model=str(tmp_path / "x.gguf")))
    assert isinstance(local, LlamaCppGenerator) and local is not remote
    assert load_generator(Settings(model=str(tmp_path / "x.gguf"), k=2)) is local


def test_missing_or_invalid_gguf_is_a_model_error_naming_the_path(tmp_path: Path) -> None:
    missing = LlamaCppGenerator(Settings(model=str(tmp_path / "nope.gguf")))  # construction is lazy
    with pytest.raises(ModelError, match="nope.gguf"):
        list(missing.stream([{"role": "user", "content": "hi"}], max_tokens=4))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="bad.gguf"):
        _ = LlamaCppGenerator(Settings(model=str(bad))).context_window


def test_sha256_prefix_is_cached_in_a_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea"  # sha256("abc")
    assert file_sha256_prefix(model) == expected
    cache = tmp_path / "cache" / "briefing-rag" / "model-hashes.json"
    assert list(json.loads(cache.read_text()).values())[0].startswith(expected)
    cache.write_text(json.dumps({k: "f" * 64 for k in json.loads(cache.read_text())}))
    assert file_sha256_prefix(model) == "f" * 16  # served from the sidecar, not recomputed


def test_sse_parsing_yields_deltas_until_done_and_raises_on_error_events() -> None:
    lines = [
        ": keep-alive",
        'data: {"choices":[{"delta":{"role":"assistant"}}]}',
        'data: {"choices":[{"delta":{"content":"Hel"}}]}',
        "",
        'data: {"choices":[{"delta":{"content":"lo"}}]}',
        "data: [DONE]",
        'data: {"choices":[{"delta":{"content":"ignored"}}]}',
    ]
    assert list(_sse_deltas(iter(lines), "u")) == ["Hel", "lo"]
    with pytest.raises(GenerationError, match="overloaded"):
        list(_sse_deltas(iter(['data: {"error":{"message":"overloaded"}}']), "u"))


# -- a scripted OpenAI-compatible server -------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict] = []
    reply = ["The ", "quay ", "cost ", "40 million euros [1]."]

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/v1/models":
            self._send(200, json.dumps({"data": [{"id": "tiny-model"}]}).encode(), "application/json")
        else:
            self._send(404, b"{}", "application/json")

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions" or body["model"] == "broken":
            self._send(500, b'{"error":"boom"}', "application/json")
        elif body["model"] == "plain":
            reply = {"choices": [{"message": {"role": "assistant", "content": "".join(self.reply)}}]}
            self._send(200, json.dumps(reply).encode(), "application/json")
        else:
            events = [{"choices": [{"delta": {"role": "assistant"}}]}]
            events += [{"choices": [{"delta": {"content": piece}}]} for piece in self.reply]
            payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._send(200, payload.encode(), "text/event-stream")


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What did the quay cost?"}]


@pytest.mark.e2e
def test_openai_adapter_streams_sse_and_reads_plain_replies(server: str) -> None:
    gen = OpenAICompatibleGenerator(Settings(llm_url=server, llm_api_key="sekret", n_ctx=2048))
    assert gen.info == {"llm": "tiny-model", "server": server + "/v1", "backend": "openai-compatible"}
    assert gen.context_window == 2048 and gen.count_tokens("abcdefgh") == 2
    pieces = list(gen.stream(MESSAGES, max_tokens=32, stop=["\n\n"]))
    assert "".join(pieces) == "".join(_Handler.reply)  # regrouped: the loop guard holds back a few words
    sent = _Handler.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sekret"
    assert sent["body"]["stream"] is True and sent["body"]["max_tokens"] == 32 and sent["body"]["stop"] == ["\n\n"]
    assert sent["body"]["messages"] == MESSAGES and sent["body"]["model"] == "tiny-model"
    plain = OpenAICompatibleGenerator(Settings(llm_url=server + "/v1", llm_model="plain"))
    assert "".join(plain.stream(MESSAGES, max_tokens=32)) == "The quay cost 40 million euros [1]."


@pytest.mark.e2e
def test_openai_adapter_http_errors_name_the_url_and_status(server: str) -> None:
    broken = OpenAICompatibleGenerator(Settings(llm_url=server, llm_model="broken"))
    with pytest.raises(GenerationError, match=r"/v1/chat/completions answered HTTP 500"):
        list(broken.stream(MESSAGES, max_tokens=8))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    dead = OpenAICompatibleGenerator(Settings(llm_url=f"http://127.0.0.1:{port}", llm_model="m"))
    with pytest.raises(GenerationError, match=f"127.0.0.1:{port}/v1/chat/completions"):
        list(dead.stream(MESSAGES, max_tokens=8))


def _packaged_model() -> Path:
    try:
        path = Settings().model_path
    except Exception as exc:  # noqa: BLE001 - a missing package is a skip reason, not a failure
        pytest.skip(f"packaged SmolLM2 not installed: {exc}")
    if not path.is_file():
        pytest.skip(f"packaged SmolLM2 GGUF missing at {path}")
    return path


@pytest.mark.e2e
def test_llama_cpp_generator_streams_with_the_real_model() -> None:
    path = _packaged_model()
    gen = LlamaCppGenerator(Settings(n_ctx=16384, threads=2))
    assert gen.context_window == 8192  # capped at the model's training context
    info = gen.info
    assert info["llm"] == path.name and info["backend"] == "llama.cpp" and len(info["sha256"]) == 16
    assert gen.count_tokens("The quick brown fox") >= 4
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    first = list(gen.stream(messages, max_tokens=16))
    assert len(first) >= 1 and "Paris" in "".join(first)
    assert "".join(gen.stream(messages, max_tokens=16)) == "".join(first)  # temperature 0, reused model
