"""Plumbing shared by the HTTP routes: error bodies, the bounded generation queue, and running a
blocking model call in a worker thread while its tokens stream back to the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Generic, Sequence, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from rag.api import AssistantAPI
from rag.errors import RagError
from rag.types import Answer, Message, TokenCallback

log = logging.getLogger("rag.server")
T = TypeVar("T")


class ApiError(RagError):
    """An HTTP-level refusal (bad upload, busy, unauthorised) with its own status and type."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = headers or {}


class ClientGone(Exception):
    """Raised inside a generation thread to stop generating for a client that went away."""


def scrub(message: str, index_dir: Path | None) -> str:
    """One line, with the server's absolute index folder replaced by `<index>`."""
    text = " ".join(str(message).split())
    if index_dir is not None:
        root = str(index_dir.resolve())
        if len(root) > 1:
            text = text.replace(root, "<index>")
    return text


def error_payload(kind: str, message: str) -> dict[str, Any]:
    """The one error shape of every route: {"error": {"type", "message"}}."""
    return {"error": {"type": kind, "message": message}}


def rag_error_payload(exc: RagError, index_dir: Path | None) -> dict[str, Any]:
    """Error body of a RagError (its kind and its scrubbed message)."""
    return error_payload(getattr(exc, "kind", "rag_error"), scrub(str(exc), index_dir) or exc.__class__.__name__)


def rag_error_response(exc: RagError, index_dir: Path | None) -> JSONResponse:
    """A RagError as a JSON response with the error's own HTTP status (4xx or 5xx)."""
    status = int(getattr(exc, "status", 400) or 400)
    headers = getattr(exc, "headers", None) or None
    return JSONResponse(rag_error_payload(exc, index_dir), status_code=status, headers=headers)


INTERNAL_MESSAGE = "internal server error; the traceback is in the server log"


def sse_event(event: str, data: Any) -> str:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


STOP_POLL_S = 0.25
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class GenerationGate:
    """Admission to the model: at most `max_waiting` requests wait while one generates.

    `admit()` is called before a response starts, so a full queue is a clean 429 with a
    Retry-After estimated from how long recent generations took. The gate holds no lock of its own:
    admitted requests wait in their worker thread on the model's one lock
    (rag.generate.generator.MODEL_LOCK, taken by the Assistant around each generation).
    """

    def __init__(self, max_waiting: int = 8) -> None:
        if max_waiting < 0:
            raise ValueError("max_waiting must be >= 0")
        self.max_waiting = max_waiting
        self._admitted = 0
        self._mean_seconds = 5.0
        self._last_finish = 0.0
        self.stopping = threading.Event()
        """Set when the server begins to shut down: running generations end, new ones are refused."""
        self.ended_by_shutdown = 0
        """Generations under way that `stopping` ended (their clients got a shutting_down error)."""
        self._workers: set[threading.Thread] = set()

    @property
    def admitted(self) -> int:
        """Requests running or waiting."""
        return self._admitted

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's length times a recent generation's time."""
        return max(1, min(300, math.ceil(self._mean_seconds * max(1, self._admitted))))

    def admit(self) -> "Slot":
        """A place in the queue, or ApiError 429 when `max_waiting` requests already wait."""
        if self.stopping.is_set():
            raise shutting_down()
        if self._admitted >= 1 + self.max_waiting:
            seconds = self.retry_after()
            raise ApiError(429, "busy", f"the model is busy: {self._admitted - 1} requests are already waiting; "
                           f"retry in about {seconds} s", {"Retry-After": str(seconds)})
        self._admitted += 1
        return Slot(self)

    def join_workers(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the generation threads to end; how many still run."""
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))
        return sum(w.is_alive() for w in list(self._workers))

    def _finished(self, started: float) -> None:
        """Fold one generation's own time into the mean: generations run one at a time, so it began
        when it started or when the one before it finished, whichever was later."""
        now = time.monotonic()
        seconds = now - max(started, self._last_finish)
        self._last_finish = now
        self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * seconds


def shutting_down() -> ApiError:
    return ApiError(503, "shutting_down", "the server is shutting down; the answer was not finished",
                    {"Retry-After": "5"})


class Slot:
    """One admitted request: started when its worker begins, released (idempotent) when it ends."""

    def __init__(self, gate: GenerationGate) -> None:
        self._gate = gate
        self._started: float | None = None
        self._done = False

    @property
    def stopping(self) -> threading.Event:
        return self._gate.stopping

    @property
    def gate(self) -> GenerationGate:
        return self._gate

    def start(self) -> None:
        """The request's worker begins (it waits on the model lock from here); refused when stopping."""
        if self.stopping.is_set():
            self.release()
            raise shutting_down()
        self._started = time.monotonic()

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        self._gate._admitted -= 1
        if self._started is not None:
            self._gate._finished(self._started)


class Primed(Generic[T]):
    """An async iterator whose first item was already taken (so errors before it surface early)."""

    def __init__(self, first: T, rest: AsyncIterator[T]) -> None:
        self.first = first
        self.rest = rest

    async def __aiter__(self) -> AsyncIterator[T]:
        yield self.first
        async for item in self.rest:
            yield item

    async def aclose(self) -> None:
        """Close the underlying iterator (stops a generation whose client went away)."""
        await self.rest.aclose()  # type: ignore[attr-defined]


async def prime(items: AsyncIterator[T]) -> Primed[T]:
    """Take the first item now: a RagError raised before it becomes a plain HTTP error response."""
    try:
        first = await items.__anext__()
    except BaseException:
        await items.aclose()  # type: ignore[attr-defined]
        raise
    return Primed(first, items)


async def generate(slot: Slot, run: Callable[[TokenCallback], T]) -> AsyncIterator[tuple[str, Any]]:
    """Run `run(on_token)` in a thread (it waits there for the model); yield ("token", text)... then ("result", value).

    Closing the iterator early (the client left) makes the next token raise ClientGone inside the
    thread, which frees the model; the slot is released only once the thread has really finished.
    Once the server is stopping, the next token (or a quiet STOP_POLL_S) raises the shutting_down
    ApiError instead, counted in `GenerationGate.ended_by_shutdown`, and the iterator closes.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    started = False

    def on_token(piece: str) -> None:
        if stop.is_set():
            raise ClientGone()
        loop.call_soon_threadsafe(items.put_nowait, ("token", piece))

    def finish(outcome: tuple[str, Any]) -> None:
        slot.release()
        items.put_nowait(outcome)

    def work() -> None:
        try:
            outcome: tuple[str, Any] = ("result", run(on_token))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            outcome = ("error", exc)
        finally:
            slot.gate._workers.discard(threading.current_thread())
        try:
            loop.call_soon_threadsafe(finish, outcome)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            pass

    try:
        slot.start()
        worker = threading.Thread(target=work, name="rag-generate", daemon=True)
        slot.gate._workers.add(worker)
        worker.start()
        started = True
        while True:
            try:
                kind, value = await asyncio.wait_for(items.get(), timeout=STOP_POLL_S)
            except asyncio.TimeoutError:
                kind, value = "idle", None
            if kind == "error":
                raise value
            if kind != "result" and slot.stopping.is_set():  # checked between tokens too: they may never pause
                slot.gate.ended_by_shutdown += 1
                raise shutting_down()
            if kind == "idle":
                continue
            yield kind, value
            if kind == "result":
                return
    finally:
        stop.set()
        if not started:
            slot.release()


async def generate_result(slot: Slot, run: Callable[[TokenCallback], T]) -> T:
    """Run a generation to its end and return its result (tokens are dropped)."""
    stream = generate(slot, run)
    try:
        async for kind, value in stream:
            if kind == "result":
                return value  # type: ignore[no-any-return]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    raise RuntimeError("generation ended without a result")


def assistant_of(request: Request) -> AssistantAPI:
    """The Assistant this app serves."""
    assistant: AssistantAPI = request.app.state.assistant
    return assistant


def gate_of(request: Request) -> GenerationGate:
    """The app's generation queue."""
    return request.app.state.gate  # type: ignore[no-any-return]


def index_dir_of(request: Request) -> Path | None:
    """The served index folder (for scrubbing messages), when the assistant has one."""
    settings = getattr(request.app.state.assistant, "settings", None)
    folder = getattr(settings, "index_dir", None)
    return Path(folder) if folder is not None else None


def answer_runner(assistant: AssistantAPI, question: str, *, k: int | None = None, doc_ids: Sequence[str] = (),
                  history: Sequence[Message] = ()) -> Callable[[TokenCallback], Answer]:
    """What `generate` runs for a question: with a history and no chosen documents, a chat turn (the
    follow-up is rewritten to stand alone before retrieval); otherwise one question, the history
    given to the prompt only."""
    if history and not doc_ids:
        def follow_up(on_token: TokenCallback) -> Answer:
            session = assistant.chat()
            session.history = [dict(m) for m in history]
            return session.ask(question, k=k, on_token=on_token)
        return follow_up
    return lambda on_token: assistant.ask(question, k=k, doc_ids=doc_ids, history=history, on_token=on_token)
