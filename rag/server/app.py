"""`rag serve`: the HTTP API of DESIGN §4, the OpenAI-compatible route and the web page.

A thin shell over rag.Assistant: no module-level state (everything hangs off `app.state`),
blocking model calls run in worker threads, generation waits in a bounded queue (429 when
full), every error is `{"error": {"type", "message"}}`.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import __version__
from rag.api import AssistantAPI
from rag.errors import ConfigError, RagError
from rag.server.common import (
    INTERNAL_MESSAGE,
    ApiError,
    GenerationGate,
    assistant_of,
    error_payload,
    index_dir_of,
    rag_error_response,
)
from rag.server.limits import RequestLimits, uvicorn_options

log = logging.getLogger("rag.server")
STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_WAITING = 8
SHUTDOWN_WAIT_S = 5.0
"""How long a stopping server waits for generation threads to notice and free the model (a token
or two once retrieval is done; longer only while one is still embedding or reading)."""
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_HTTP_KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "timeout", 413: "too_large", 415: "unsupported_media_type"}

_bearer = HTTPBearer(auto_error=False, description="the key given to `rag serve --api-key` (or RAG_API_KEY)")


def require_key(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """With an API key set, the request must carry `Authorization: Bearer KEY` (else 401)."""
    expected: str | None = request.app.state.api_key
    if not expected:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, "unauthorized", "missing or wrong API key: send 'Authorization: Bearer KEY'",
                       {"WWW-Authenticate": "Bearer"})


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a 500 with a generic body; the traceback is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # the last line of defence: log everything, reveal nothing
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                return
            await JSONResponse(error_payload("internal_error", INTERNAL_MESSAGE), status_code=500)(scope, receive, send)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BrowserGuard:
    """ASGI middleware against other web sites reaching a local server through the user's browser.

    Host check (DNS rebinding): with `allowed_hosts`, a request whose Host is not one of them is
    refused. Origin check (cross-site forms, e.g. an upload posted by another site): a browser
    request that changes something must come from this server's own origin.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str] | None) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts} if allowed_hosts is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            problem = None
            if self.allowed is not None and _hostname(host) not in self.allowed:
                problem = f"requests for host {host!r} are refused; use http://127.0.0.1 or http://localhost"
            elif scope["method"] not in SAFE_METHODS and "origin" in headers:
                origin = headers["origin"]
                if origin.split("://", 1)[-1].rstrip("/").lower() != host.lower():
                    problem = f"cross-origin {scope['method']} from {origin!r} refused"
            if problem:
                await JSONResponse(error_payload("forbidden", problem), status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    async def on_rag_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        if int(getattr(exc, "status", 400)) >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        return rag_error_response(exc, index_dir_of(request))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_payload("validation_error", _validation_message(exc)), status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _HTTP_KINDS.get(exc.status_code, "http_error")
        return JSONResponse(error_payload(kind, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.add_exception_handler(RagError, on_rag_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


def _local_docs_assets() -> Path | None:
    """The folder of Swagger UI 5 files (OpenAPI 3.1) that the `fastapi-offline` package ships, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if all((folder / name).is_file() for name in DOCS_ASSETS) else None


def _add_local_docs(app: FastAPI, assets: Path) -> None:
    """/docs from packaged Swagger UI files, so it works offline."""
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="briefing-rag API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")


def create_app(assistant: AssistantAPI, *, max_waiting: int = DEFAULT_MAX_WAITING, max_upload_bytes: int | None = None,
               max_body_bytes: int | None = None, read_timeout_s: float | None = None,
               api_key: str | None = None, allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS) -> FastAPI:
    """The FastAPI app serving `assistant`.

    `max_waiting`: generation requests allowed to wait while one runs (more get 429).
    `max_upload_bytes`: upload limit (default `settings.max_upload_mb` MiB).
    `max_body_bytes`: body limit of every other route (default `settings.max_body_kb` KiB).
    `read_timeout_s`: longest wait for the next piece of a request body (default `settings.read_timeout_s`);
    the headers' deadline is the HTTP protocol's (`rag.server.limits.uvicorn_options`).
    `api_key`: required Bearer key (default `settings.api_key`; none means open).
    `allowed_hosts`: Host header values served (default loopback names; None: any).
    """
    from rag.server.api import router as api_router
    from rag.server.export_route import router as export_router
    from rag.server.openai_route import router as openai_router
    from rag.server.uploads import router as upload_router

    settings = assistant.settings
    docs_assets = _local_docs_assets()
    app = FastAPI(title="briefing-rag", version=__version__, docs_url=None if docs_assets else "/docs", redoc_url=None,
                  description="Ask questions of, and summarise, your briefing documents with verified citations.")
    app.state.assistant = assistant
    app.state.gate = GenerationGate(max_waiting)
    app.state.api_key = api_key or settings.api_key
    app.state.max_upload_bytes = max_upload_bytes or settings.max_upload_mb * 2**20
    app.state.upload_lock = threading.Lock()
    _install_error_handlers(app)
    app.add_middleware(CatchAll)
    app.add_middleware(BrowserGuard, allowed_hosts=allowed_hosts)
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes or settings.max_body_kb * 1024,
                       read_timeout_s=read_timeout_s or settings.read_timeout_s, own_limit=("/documents",))

    @app.get("/health", summary="Liveness and index size (no key needed)")
    def health(request: Request) -> dict[str, Any]:
        stats = assistant_of(request).stats()
        return {"status": "ok", "documents": stats["documents"], "chunks": stats["chunks"]}

    secured = [Depends(require_key)]
    app.include_router(api_router, dependencies=secured)
    app.include_router(export_router, dependencies=secured)
    app.include_router(upload_router, dependencies=secured)
    app.include_router(openai_router, dependencies=secured)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if docs_assets is not None:
        _add_local_docs(app, docs_assets)
    return app


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    except (OSError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def _clean_exit_on_signals() -> Iterator[None]:
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown; make that a no-op so we exit 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ignore = lambda signum, frame: None  # noqa: E731
    saved = {sig: signal.signal(sig, ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _log_config(uvicorn: Any) -> dict[str, Any]:
    """uvicorn's logging with every line (access log included) on stderr, plus rag's own logger."""
    import copy

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    config["loggers"]["rag"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(assistant: AssistantAPI, host: str = "127.0.0.1", port: int = 8000, *, max_waiting: int = DEFAULT_MAX_WAITING,
          log_level: str = "info", watch: Sequence[str] = ()) -> None:
    """Serve `assistant` over HTTP until SIGINT/SIGTERM (graceful shutdown, then return), keeping
    the index in step with the `watch` folders in a background thread (rag.watch) meanwhile.

    Raises ConfigError for a non-loopback host without an API key, a missing watch folder, or when
    the port is taken.
    """
    settings = assistant.settings
    if not is_loopback(host) and not settings.api_key:
        raise ConfigError(f"refusing to listen on {host} without an API key: anyone who can reach it could read "
                          "your documents; give --api-key KEY (or set RAG_API_KEY), or bind 127.0.0.1")
    import uvicorn

    from rag.watch import FolderWatch

    watcher = FolderWatch(assistant, watch, on_batch=_log_batch, on_notice=log.warning) if watch else None
    hosts = (*LOOPBACK_HOSTS, host) if is_loopback(host) else None
    app = create_app(assistant, max_waiting=max_waiting, allowed_hosts=hosts)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, log_level=log_level, log_config=_log_config(uvicorn), timeout_graceful_shutdown=5,
                            server_header=False, **uvicorn_options(settings))
    gate: GenerationGate = app.state.gate

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            gate.stopping.set()  # open answer streams end with an error event instead of being cut off
            super().handle_exit(sig, frame)

    server = Server(config)
    print(f"briefing-rag serving http://{shown}:{bound_port}/ (API docs at /docs); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    with _clean_exit_on_signals(), watcher or contextlib.nullcontext():
        server.run(sockets=[sock])
    sock.close()
    _log_shutdown(gate)


def _log_shutdown(gate: GenerationGate) -> None:
    """One line naming the answers the shutdown ended, once their threads have freed the model."""
    running = gate.join_workers(SHUTDOWN_WAIT_S)
    ended = gate.ended_by_shutdown
    if not ended and not running:
        return
    line = f"shutdown: {ended} open answer{'s' if ended != 1 else ''} ended with a shutting_down error"
    if running:
        line += f"; {running} generation{'s' if running != 1 else ''} still running after {SHUTDOWN_WAIT_S:g} s"
    log.info(line)


def _log_batch(batch: Any) -> None:
    log.info("watch: %s", batch.describe())
    for failure in batch.report.failed:
        log.warning("watch: failed: %s: %s", failure.path, failure.error)
