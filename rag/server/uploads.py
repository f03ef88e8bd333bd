"""POST /documents: receive one file (size-limited while it streams in), store it under
`<index>/uploads/` with a safe name, ingest it at once, and answer its `rag docs` entry."""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from pathlib import Path
from typing import Any, AsyncIterator, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from rag import serialize
from rag.ingest.sources import SUPPORTED_SUFFIXES
from rag.server.common import ApiError, assistant_of, scrub

UPLOAD_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
UPLOADS_FOLDER = "uploads"
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes allowed on top of the file for multipart boundaries and part headers."""
MAX_NAME = 100

router = APIRouter()

_UNSAFE = re.compile(r"[^\w\-. ]+")


def safe_filename(name: str) -> str:
    """A plain file name from a client-supplied one: no folders, no '..', no control or odd characters.

    >>> safe_filename("../../evil.txt")
    'evil.txt'
    """
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/").split("/")[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = ext, ""
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip(" ._")[:MAX_NAME] or "upload"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def uploads_dir(assistant: Any) -> Path:
    """Where uploaded files are kept: `<index>/uploads/`."""
    return Path(assistant.settings.index_dir) / UPLOADS_FOLDER


def forget_upload(assistant: Any, path: str) -> None:
    """Delete the stored copy of an uploaded document (documents ingested from elsewhere are left alone)."""
    folder = uploads_dir(assistant).resolve()
    file = Path(path).resolve()
    if file.parent == folder:
        file.unlink(missing_ok=True)


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


def _store_and_ingest(assistant: Any, lock: threading.Lock, name: str, data: BinaryIO) -> tuple[bool, dict[str, Any]]:
    folder = uploads_dir(assistant)
    with lock:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        if target.resolve().parent != folder.resolve():
            raise ApiError(400, "bad_request", f"refusing the file name {name!r}")
        partial = folder / f".{name}.partial"
        with partial.open("wb") as out:
            shutil.copyfileobj(data, out, 1 << 20)
        previous = folder / f".{name}.previous"
        had_previous = target.exists()
        if had_previous:
            os.replace(target, previous)
        os.replace(partial, target)
        try:
            report = assistant.ingest([target])
        except BaseException:
            _roll_back(target, previous, had_previous)
            raise
        failures = [f.error for f in report.failed]
        if failures:
            _roll_back(target, previous, had_previous)
            reason = failures[0].replace(str(target.resolve()), name).replace(str(target), name)
            raise ApiError(422, "document_error", f"{name}: nothing was indexed: "
                           f"{scrub(reason, Path(assistant.settings.index_dir))}")
        if had_previous:
            previous.unlink(missing_ok=True)
        wanted = str(target.resolve())
        for info in assistant.documents():
            if info.path == wanted:
                return report.added > 0, serialize.document_info_json(info)
    raise ApiError(500, "internal_error", f"{name} was ingested but is not listed in the index")


def _roll_back(target: Path, previous: Path, had_previous: bool) -> None:
    target.unlink(missing_ok=True)
    if had_previous:
        os.replace(previous, target)
