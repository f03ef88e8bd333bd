"""The JSON routes of DESIGN §4: ask (plain and streamed), search, summarize, brief, documents."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any, AsyncIterator, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag import serialize
from rag.config import MAX_CONVERSATION_CHARS, MAX_QUESTION_CHARS, Settings
from rag.errors import IndexMissingError, RagError
from rag.server.common import (
    INTERNAL_MESSAGE,
    SSE_HEADERS,
    ApiError,
    Primed,
    answer_runner,
    assistant_of,
    error_payload,
    gate_of,
    generate,
    generate_result,
    index_dir_of,
    prime,
    rag_error_payload,
    sse_event,
)
from rag.store.uploads import forget_upload

log = logging.getLogger("rag.server")
DATE = r"^\d{4}-\d{2}-\d{2}$"
MAX_K = 50

router = APIRouter()


class Turn(BaseModel):
    """One earlier message of a conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_CONVERSATION_CHARS)


class AskRequest(BaseModel):
    """POST /ask."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="the question, in plain words")
    k: int | None = Field(default=None, ge=1, le=MAX_K, description=f"passages to retrieve (default {Settings.k})")
    doc_ids: list[str] = Field(default_factory=list, description="only these documents (ids or paths)")
    stream: bool = Field(default=False, description="answer as text/event-stream: token events, then answer")
    history: list[Turn] = Field(default_factory=list, description="extension: the earlier turns, oldest first; "
                                "without doc_ids the question is read as a follow-up of them")


class SearchRequest(BaseModel):
    """POST /search."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="what to look for")
    k: int | None = Field(default=None, ge=1, le=MAX_K)
    mode: Literal["hybrid", "dense", "bm25"] | None = None
    doc_ids: list[str] = Field(default_factory=list)
    since: str | None = Field(default=None, pattern=DATE, description="documents dated on or after YYYY-MM-DD")
    until: str | None = Field(default=None, pattern=DATE, description="documents dated on or before YYYY-MM-DD")


class DocsRequest(BaseModel):
    """POST /summarize and POST /brief: the documents to cover (all when empty)."""

    model_config = ConfigDict(extra="forbid")
    doc_ids: list[str] = Field(default_factory=list)


@router.post("/ask", summary="Answer a question with verified citations", response_model=None,
             responses={200: {"content": {"text/event-stream": {}}, "description": "Answer JSON, or SSE with stream"}})
async def ask(body: AskRequest, request: Request) -> Any:
    """The Answer JSON; with `"stream": true` a text/event-stream of `token` events, then `answer`.

    With `history` (earlier user and assistant turns) the question is a follow-up: it is rewritten to
    stand alone before retrieval, as in `rag chat`; with `doc_ids` too, the history reaches the prompt only.
    """
    total = len(body.question) + sum(len(t.content) for t in body.history)
    if total > MAX_CONVERSATION_CHARS:
        raise ApiError(422, "validation_error", f"history: the conversation has {total:,} characters; at most "
                       f"{MAX_CONVERSATION_CHARS:,} are allowed in all")
    history = [{"role": t.role, "content": t.content} for t in body.history if t.content.strip()]
    run = answer_runner(assistant_of(request), body.question, k=body.k, doc_ids=body.doc_ids, history=history)
    slot = gate_of(request).admit()
    if not body.stream:
        return serialize.answer_json(await generate_result(slot, run))
    items = await prime(generate(slot, run))
    return StreamingResponse(_answer_events(items, request), media_type="text/event-stream", headers=SSE_HEADERS)


async def _answer_events(items: Primed[tuple[str, Any]], request: Request) -> AsyncIterator[str]:
    """`token` events, then `answer`; a failure after the response started becomes an `error` event."""
    async with aclosing(items):
        try:
            async for kind, value in items:
                if kind == "token":
                    yield sse_event("token", {"text": value})
                else:
                    yield sse_event("answer", serialize.answer_json(value))
        except RagError as exc:
            yield sse_event("error", rag_error_payload(exc, index_dir_of(request)))
        except Exception:  # an unexpected failure mid-stream: log it, tell the client without details
            log.exception("streaming %s failed", request.url.path)
            yield sse_event("error", error_payload("internal_error", INTERNAL_MESSAGE))


@router.post("/search", summary="Hybrid search over the indexed chunks")
def search(body: SearchRequest, request: Request) -> list[dict[str, Any]]:
    """The `rag search --json` hit list, best first."""
    hits = assistant_of(request).search(body.question, k=body.k, mode=body.mode, doc_ids=body.doc_ids,
                                        since=body.since, until=body.until)
    return [serialize.hit_json(h) for h in hits]


@router.post("/summarize", summary="Summarise documents (all when none given)")
async def summarize(request: Request, body: DocsRequest | None = None) -> dict[str, Any]:
    """Answer fields with the summary in `answer`, plus `coverage`."""
    assistant = assistant_of(request)
    doc_ids = body.doc_ids if body else []
    result = await generate_result(gate_of(request).admit(),
                                   lambda on_token: assistant.summarize(doc_ids, on_token=on_token))
    return serialize.answer_json(result)


@router.post("/brief", summary="Structured brief: key points, actors, tensions, open questions")
async def brief(request: Request, body: DocsRequest | None = None) -> dict[str, Any]:
    """The `rag brief --json` document."""
    assistant = assistant_of(request)
    doc_ids = body.doc_ids if body else []
    result = await generate_result(gate_of(request).admit(), lambda on_token: assistant.brief(doc_ids))
    return serialize.brief_json(result)


@router.get("/documents", summary="List indexed documents")
def list_documents(request: Request) -> list[dict[str, Any]]:
    """The `rag docs --json` list; empty before anything is ingested."""
    try:
        docs = assistant_of(request).documents()
    except IndexMissingError:
        return []
    return [serialize.document_info_json(d) for d in docs]


@router.get("/documents/{doc_id}", summary="One document with its extracted text")
def show_document(doc_id: str, request: Request) -> dict[str, Any]:
    """The `rag show --json` document: `text` is what every citation offset points into."""
    return serialize.document_json(assistant_of(request).document(doc_id))


@router.delete("/documents/{doc_id}", summary="Remove a document from the index")
def delete_document(doc_id: str, request: Request) -> dict[str, list[str]]:
    """{"removed": [doc_id]}; a file that was uploaded through `POST /documents` is deleted too."""
    assistant = assistant_of(request)
    path = assistant.document(doc_id).path
    removed = list(assistant.remove(doc_id))
    forget_upload(assistant.settings.index_dir, path)
    return {"removed": removed}

