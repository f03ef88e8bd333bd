"""Request limits of `rag serve`, so that no client can hold a connection or fill the memory.

- `RequestLimits` (ASGI middleware): a body over `max_body_bytes` is a 413 (a declared
  Content-Length at once, before any of it is read; a chunked body as soon as it passes the
  limit), and a body whose next piece does not come within `read_timeout_s` is a 408. Both close
  the connection. Paths with a limit of their own (the upload route) skip the size check only.
- `timed_h11_protocol`: uvicorn's h11 protocol, closing a connection whose request headers are not
  complete `read_timeout_s` after it opened, or after the first byte of a kept-alive connection's
  next request. uvicorn itself only closes idle kept-alive connections (`timeout_keep_alive`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Sequence

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.config import Settings
from rag.server.common import error_payload

CLOSE = {"Connection": "close"}


class RequestRejected(HTTPException):
    """A body too large (413) or too slow (408). An HTTPException, so that FastAPI's body parser
    passes it on unchanged (it turns other errors raised while reading into a 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status_code=status, detail=message, headers=dict(CLOSE))


def too_large(limit: int) -> RequestRejected:
    return RequestRejected(413, f"the request body is larger than the limit of {limit / 1024:g} KiB (RAG_MAX_BODY_KB)")


def too_slow(seconds: float) -> RequestRejected:
    return RequestRejected(408, f"the request did not arrive within {seconds:g} s (RAG_READ_TIMEOUT_S)")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class RequestLimits:
    """ASGI middleware: the body size limit and the body read timeout (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, read_timeout_s: float,
                 own_limit: Sequence[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.own_limit = frozenset(own_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = None if scope["path"] in self.own_limit else self.max_body_bytes
        declared = _declared_length(scope)
        if limit is not None and declared is not None and declared > limit:
            await _respond(too_large(limit), scope, receive, send)
            return
        seen = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, body_done
            if body_done:  # later reads wait for a disconnect (streaming responses): no timeout
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout_s)
            except asyncio.TimeoutError:
                raise too_slow(self.read_timeout_s) from None
            if message["type"] != "http.request":
                body_done = True
                return message
            seen += len(message.get("body", b""))
            body_done = not message.get("more_body", False)
            if limit is not None and seen > limit:
                raise too_large(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestRejected as exc:  # read outside a route that turns it into a response
            if not started:
                await _respond(exc, scope, receive, send)


async def _respond(exc: RequestRejected, scope: Scope, receive: Receive, send: Send) -> None:
    kind = "too_large" if exc.status_code == 413 else "timeout"
    response = JSONResponse(error_payload(kind, str(exc.detail)), status_code=exc.status_code, headers=dict(CLOSE))
    await response(scope, receive, send)


def _raw_408(seconds: float) -> bytes:
    body = json.dumps(error_payload("timeout", f"the request headers did not arrive within {seconds:g} s "
                                               "(RAG_READ_TIMEOUT_S)")).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


def timed_h11_protocol(read_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's H11Protocol with a deadline for each request's headers (uvicorn has none)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _partial = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._header_timer = self.loop.call_later(read_timeout_s, self._headers_too_slow)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            self._partial = waiting
            if waiting and self._header_timer is None:
                self._header_timer = self.loop.call_later(read_timeout_s, self._headers_too_slow)
            elif not waiting:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            if self._partial:
                self.transport.write(_raw_408(read_timeout_s))
            self.transport.close()

    return TimedH11Protocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn.Config arguments that apply `settings.read_timeout_s` to request headers."""
    return {"http": timed_h11_protocol(settings.read_timeout_s)}
