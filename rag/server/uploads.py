"""POST /documents: receive one file (size-limited while it streams in), store it under
`<index>/uploads/` with a safe name, ingest it at once, and answer its `rag docs` entry."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, AsyncIterator, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from rag import serialize
from rag.api import AssistantAPI
from rag.errors import DocumentError
from rag.ingest.sources import SUPPORTED_SUFFIXES
from rag.server.common import ApiError, assistant_of, scrub
from rag.store.uploads import safe_filename, stage_and_ingest

UPLOAD_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes allowed on top of the file for multipart boundaries and part headers."""

router = APIRouter()


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the file is larger than the upload limit of {limit / 2**20:g} MiB "
                    "(RAG_MAX_UPLOAD_MB)")


async def _limited(stream: AsyncIterator[bytes], limit: int, file_limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise _too_large(file_limit)
        yield chunk


@router.post("/documents", summary="Upload and ingest one document", status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary"}}}}}}},
             responses={413: {"description": "larger than the upload limit"},
                        415: {"description": "not one of " + " ".join(UPLOAD_SUFFIXES)},
                        422: {"description": "the file could not be read; nothing was indexed"}})
async def upload_document(request: Request) -> JSONResponse:
    """Multipart field `file`; 201 with the new document's `rag docs` entry (200 when it was known)."""
    limit: int = request.app.state.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data in a field named 'file'")
    parser = MultiPartParser(request.headers, _limited(request.stream(), limit + MULTIPART_OVERHEAD, limit),
                             max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(400, "bad_request", f"malformed multipart body: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "validation_error", "no file in the multipart field 'file'")
        name = safe_filename(upload.filename or "")
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise ApiError(415, "unsupported_media_type",
                           f"{name}: unsupported file type; allowed: {' '.join(UPLOAD_SUFFIXES)}")
        if upload.size is not None and upload.size > limit:
            raise _too_large(limit)
        assistant = assistant_of(request)
        lock: threading.Lock = request.app.state.upload_lock
        created, entry = await run_in_threadpool(_store_and_ingest, assistant, lock, name, upload.file)
    finally:
        await form.close()
    return JSONResponse(entry, status_code=201 if created else 200)


def _store_and_ingest(assistant: AssistantAPI, lock: threading.Lock, name: str,
                      data: BinaryIO) -> tuple[bool, dict[str, Any]]:
    index_dir = Path(assistant.settings.index_dir)
    with lock:
        try:
            target, report = stage_and_ingest(index_dir, name, data, assistant.ingest)
        except DocumentError as exc:
            raise ApiError(422, "document_error", scrub(str(exc), index_dir)) from exc
        wanted = str(target.resolve())
        for info in assistant.documents():
            if info.path == wanted:
                return report.added > 0, serialize.document_info_json(info)
    raise ApiError(500, "internal_error", f"{name} was ingested but is not listed in the index")
