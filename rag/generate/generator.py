"""Generator protocol, the llama.cpp adapter and the OpenAI-compatible HTTP adapter."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

from rag.config import Settings, cache_root
from rag.errors import GenerationError, ModelError
from rag.generate.loops import stop_loops
from rag.types import Message


@runtime_checkable
class Generator(Protocol):
    """A chat model that streams text."""

    info: dict[str, str]  # e.g. {"llm": "SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": "...", "backend": "llama.cpp"}
    context_window: int  # tokens the model can attend to (prompt + output)

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model (an estimate is fine for remote models)."""
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield the reply's text piece by piece (temperature and seed come from Settings)."""
        ...


MODEL_LOCK = threading.RLock()
"""The one lock that serialises model work in this process (loading, tokenising, generating).

A llama.cpp context is not thread-safe, and two generations at once on a laptop's cores only slow
each other down. The Assistant holds it around a whole generation (so its tokens stream in order),
the generator re-enters it, and the server's queue admits requests that then wait on it.
"""
HASH_CACHE_FILE = "model-hashes.json"
HTTP_CONNECT_TIMEOUT_S = 10.0
HTTP_READ_TIMEOUT_S = 300.0


def file_sha256_prefix(path: Path, length: int = 16) -> str:
    """First `length` hex digits of the file's sha256, cached by (path, size, mtime) in a sidecar JSON."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_file = cache_root() / HASH_CACHE_FILE
    cache: dict[str, str] = {}
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), str):
        return cache[key][:length]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    full = digest.hexdigest()
    cache[key] = full
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        tmp.replace(cache_file)
    except OSError:
        pass  # the cache is an optimisation only
    return full[:length]


class LlamaCppGenerator:
    """A local GGUF model run by llama-cpp-python, loaded lazily on first use.

    One `llama_cpp.Llama` object is created per generator and reused for every call (guarded by
    a lock, since a llama context is not thread-safe). llama.cpp keeps the KV cache of the
    previous prompt and re-evaluates only the tokens after the longest common prefix, so the
    fixed system prompt and few-shot turns are evaluated once and reused by later calls.
    The model's own chat template (from the GGUF metadata) formats the messages.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.model_path
        self._llm: Any = None
        self._info: dict[str, str] | None = None

    def _load(self) -> Any:
        with MODEL_LOCK:
            if self._llm is not None:
                return self._llm
            if not self.path.is_file():
                raise ModelError(f"model file not found: {self.path} (set --model / RAG_MODEL to a GGUF file)")
            import llama_cpp

            llm = self._open(llama_cpp, self.settings.n_ctx)
            trained = _trained_context(llm)
            if trained and trained < self.settings.n_ctx:
                llm.close()
                llm = self._open(llama_cpp, trained)
            self._llm = llm
            return llm

    def _open(self, llama_cpp: Any, n_ctx: int) -> Any:
        try:
            return llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=self.settings.thread_count,
                seed=self.settings.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load GGUF model {self.path}: {exc}") from exc

    @property
    def info(self) -> dict[str, str]:
        """{"llm": file name, "sha256": 16 hex digits, "backend": "llama.cpp"}."""
        if self._info is None:
            if not self.path.is_file():
                raise ModelError(f"model file not found: {self.path} (set --model / RAG_MODEL to a GGUF file)")
            self._info = {"llm": self.path.name, "sha256": file_sha256_prefix(self.path), "backend": "llama.cpp"}
        return dict(self._info)

    @property
    def context_window(self) -> int:
        """The context the model was loaded with: min(settings.n_ctx, the model's training context)."""
        return int(self._load().n_ctx())

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's tokenizer (no BOS)."""
        llm = self._load()
        with MODEL_LOCK:
            return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield the reply's text as llama.cpp produces it (chat template applied), ended early at a
    repetition loop (rag.generate.loops.stop_loops)."""
        llm = self._load()
        with MODEL_LOCK:
            try:
                chunks = llm.create_chat_completion(
                    messages=[dict(m) for m in messages],
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=self.settings.temperature,
                    seed=self.settings.seed,
                    stop=list(stop),
                    repeat_penalty=self.settings.repeat_penalty,
                )
                yield from stop_loops(_deltas(chunks))
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"llama.cpp failed while generating with {self.path.name}: {exc}") from exc


def _deltas(chunks: Iterator[dict]) -> Iterator[str]:
    try:
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _trained_context(llm: Any) -> int:
    meta = getattr(llm, "metadata", None) or {}
    arch = meta.get("general.architecture")
    value = meta.get(f"{arch}.context_length") if arch else None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class OpenAICompatibleGenerator:
    """Any server speaking the OpenAI chat-completions wire format (llama-server, vLLM, Ollama, ...)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_url:
            raise ModelError("OpenAICompatibleGenerator needs llm_url (--llm-url / RAG_LLM_URL)")
        self.settings = settings
        self.base_url = api_base(settings.llm_url)
        self._model = settings.llm_model
        self.context_window = settings.n_ctx

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream, application/json"}
        if self.settings.llm_api_key:
            headers["Authorization"] = f"Bearer {self.settings.llm_api_key}"
        return headers

    def _timeout(self) -> Any:
        import httpx

        return httpx.Timeout(HTTP_READ_TIMEOUT_S, connect=HTTP_CONNECT_TIMEOUT_S)

    @property
    def model(self) -> str:
        """settings.llm_model, else the first model the server lists at GET /models."""
        if self._model is None:
            import httpx

            url = f"{self.base_url}/models"
            try:
                response = httpx.get(url, headers=self._headers(), timeout=self._timeout())
            except httpx.HTTPError as exc:
                raise GenerationError(f"cannot reach LLM server {url}: {exc}") from exc
            if response.status_code >= 400:
                raise GenerationError(f"LLM server {url} answered HTTP {response.status_code}: {response.text[:200]}")
            try:
                self._model = str(response.json()["data"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise GenerationError(f"LLM server {url} listed no model; pass --llm-model") from exc
        return self._model

    @property
    def info(self) -> dict[str, str]:
        return {"llm": self.model, "server": self.base_url, "backend": "openai-compatible"}

    def count_tokens(self, text: str) -> int:
        """An estimate: about four characters a token."""
        return max(1, len(text) // 4) if text else 0

    def stream(self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:
        """POST /chat/completions with stream=true and yield the deltas (a plain JSON reply works too)."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": self.settings.temperature,
            "seed": self.settings.seed,
        }
        if stop:
            body["stop"] = list(stop)
        try:
            with httpx.Client(timeout=self._timeout()) as client:
                with client.stream("POST", url, json=body, headers=self._headers()) as response:
                    if response.status_code >= 400:
                        text = response.read().decode("utf-8", "replace")
                        raise GenerationError(f"LLM server {url} answered HTTP {response.status_code}: {text[:200]}")
                    if "text/event-stream" in response.headers.get("content-type", ""):
                        yield from stop_loops(_sse_deltas(response.iter_lines(), url))
                    else:
                        yield _plain_content(response.read(), url)
        except httpx.HTTPError as exc:
            raise GenerationError(f"cannot reach LLM server {url}: {exc}") from exc


def api_base(url: str) -> str:
    """The API root for a server URL given with or without the trailing /v1."""
    base = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base if base.endswith("/v1") else base + "/v1"


def _sse_deltas(lines: Iterator[str], url: str) -> Iterator[str]:
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise GenerationError(f"LLM server {url} sent a malformed event: {payload[:120]}") from exc
        if isinstance(event, dict) and event.get("error"):
            raise GenerationError(f"LLM server {url} reported an error: {json.dumps(event['error'])[:200]}")
        try:
            choice = event["choices"][0]
        except (KeyError, IndexError, TypeError):
            continue
        piece = (choice.get("delta") or {}).get("content") or (choice.get("message") or {}).get("content")
        if piece:
            yield str(piece)


def _plain_content(raw: bytes, url: str) -> str:
    try:
        return str(json.loads(raw)["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GenerationError(f"LLM server {url} sent an unreadable reply: {raw[:120]!r}") from exc


def load_generator(settings: Settings) -> Generator:
    """The OpenAI-compatible adapter when llm_url is set, else llama.cpp; one instance per model setup."""
    key = (
        settings.llm_url,
        settings.llm_model,
        settings.llm_api_key,
        str(settings.model_path) if not settings.llm_url else "",
        settings.n_ctx,
        settings.thread_count,
        settings.temperature,
        settings.seed,
    )
    with _CACHE_LOCK:
        generator = _GENERATORS.get(key)
        if generator is None:
            generator = OpenAICompatibleGenerator(settings) if settings.llm_url else LlamaCppGenerator(settings)
            if len(_GENERATORS) >= 4:
                _GENERATORS.pop(next(iter(_GENERATORS)))
            _GENERATORS[key] = generator
        return generator


_GENERATORS: dict[tuple[Any, ...], Generator] = {}
_CACHE_LOCK = threading.Lock()
