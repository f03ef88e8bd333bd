"""The OpenAI wire format: GET /v1/models and POST /v1/chat/completions (plain and streamed).

The last user message is the question; earlier user/assistant messages are the conversation,
so follow-ups are rewritten to stand alone before retrieval. The content holds only the verified
sentences, with their [n] markers, followed by their footnotes (or the refusal, or a plain
statement that nothing could be verified). Extra top-level fields carry the rest (on the final
chunk when streamed): `citations`, `unverified` (the sentences no passage supports, left out of
the content) and `refused`. A streamed reply sends the role at once, keep-alive comments while
the model writes, then the verified text: never unverified draft text.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextlib import aclosing
from typing import Any, AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag import Answer, AnswerSentence, Citation, serialize
from rag.config import MAX_CONVERSATION_CHARS, MAX_QUESTION_CHARS
from rag.errors import RagError
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
)

log = logging.getLogger("rag.server")
MODEL_ID = "briefing-rag"
SOURCES_HEADING = "Sources:"
NOTHING_VERIFIED = ("Nothing in this answer could be verified against the documents, so none is given; "
                    "try asking in other words or adding the documents that hold the answer.")
KEEP_ALIVE_S = 1.0
WORDS_PER_CHUNK = 6

router = APIRouter(prefix="/v1")


class ChatMessage(BaseModel):
    """One message; `content` is a string or a list of {"type": "text", "text"} parts."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The OpenAI request; sampling fields are accepted and ignored (the server's settings rule)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=50, description="extension: passages to retrieve")
    doc_ids: list[str] = Field(default_factory=list, description="extension: only these documents")


@router.get("/models", summary="OpenAI: the one model this server offers")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "briefing-rag"}]}


def message_text(message: ChatMessage) -> str:
    """The text of a message, whichever form its content takes."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") in ("text", "input_text"))


def strip_footnotes(text: str) -> str:
    """An earlier answer of ours without the footnote block, for the conversation history."""
    cut = text.find(f"\n\n{SOURCES_HEADING}\n")
    return (text[:cut] if cut >= 0 else text).strip()


def footnote(c: Citation) -> str:
    """`[n] Title, p. 3: "quote"`."""
    page = f", p. {c.page}" if c.page is not None else ""
    return f'[{c.n}] {c.title or c.path}{page}: "{" ".join(c.quote.split())}"'


def with_markers(sentence: AnswerSentence) -> str:
    """A verified sentence with its [n] markers before its final stop, as the Answer text has them."""
    marks = "".join(f"[{n}]" for n in sentence.citations)
    text = sentence.text
    if not marks:
        return text
    if text.endswith((".", "!", "?")) and not text.endswith('"'):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


def answer_text(answer: Answer) -> str:
    """The verified sentences and their footnotes; the refusal when refused; NOTHING_VERIFIED when
    no sentence was verified. Unverified sentences are never part of it (see `extra_fields`)."""
    if answer.refused:
        return answer.answer.strip()
    verified = [with_markers(s) for s in answer.sentences if s.supported]
    if not verified:
        return NOTHING_VERIFIED
    blocks = [" ".join(verified)]
    if answer.citations:
        blocks.append(SOURCES_HEADING + "\n" + "\n".join(footnote(c) for c in answer.citations))
    return "\n\n".join(blocks)


def extra_fields(answer: Answer) -> dict[str, Any]:
    """What rides beside the OpenAI fields: citations, the unverified sentences, whether it refused."""
    return {"citations": [serialize.citation_json(c) for c in answer.citations],
            "unverified": [s.text for s in answer.sentences if not s.supported],
            "refused": answer.refused}


def _conversation(body: ChatRequest) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the history; ApiError 422 when either is missing or too long."""
    texts = [message_text(m) for m in body.messages]
    last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=-1)
    question = texts[last_user].strip() if last_user >= 0 else ""
    if not question:
        raise ApiError(422, "validation_error", "messages: no user message with text to answer")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(422, "validation_error", f"messages[{last_user}].content: the question has {len(question):,} "
                       f"characters; at most {MAX_QUESTION_CHARS:,} are allowed")
    total = sum(len(t) for t in texts)
    if total > MAX_CONVERSATION_CHARS:
        raise ApiError(422, "validation_error", f"messages: the conversation has {total:,} characters; at most "
                       f"{MAX_CONVERSATION_CHARS:,} are allowed in all")
    history = [{"role": m.role, "content": strip_footnotes(t)}
               for m, t in zip(body.messages[:last_user], texts) if m.role in ("user", "assistant")]
    return question, [h for h in history if h["content"]]


@router.post("/chat/completions", summary="OpenAI: chat completion with verified citations", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Any:
    """A `chat.completion` (or a stream of `chat.completion.chunk`) plus a `citations` field."""
    question, history = _conversation(body)
    run = answer_runner(assistant_of(request), question, k=body.k, doc_ids=body.doc_ids, history=history)
    slot = gate_of(request).admit()
    reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        answer = await generate_result(slot, run)
        return {"id": reply_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text(answer)},
                             "finish_reason": "stop", "logprobs": None}], **extra_fields(answer)}
    items = await prime(generate(slot, run))
    return StreamingResponse(_chunks(items, reply_id, created, request), media_type="text/event-stream",
                             headers=SSE_HEADERS)


def _chunk(reply_id: str, created: int, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> str:
    data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _chunks(items: Primed[tuple[str, Any]], reply_id: str, created: int,
                  request: Request) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    async with aclosing(items):
        yield _chunk(reply_id, created, {"role": "assistant", "content": ""})
        try:
            async for kind, value in items:
                if kind == "token":
                    if time.monotonic() - last_sent >= KEEP_ALIVE_S:
                        last_sent = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                words = re.findall(r"\S+\s*|\s+", answer_text(value))
                for i in range(0, len(words), WORDS_PER_CHUNK):
                    yield _chunk(reply_id, created, {"content": "".join(words[i:i + WORDS_PER_CHUNK])})
                yield _chunk(reply_id, created, {}, "stop", **extra_fields(value))
        except RagError as exc:
            yield f"data: {json.dumps(rag_error_payload(exc, index_dir_of(request)))}\n\n"
        except Exception:  # an unexpected failure mid-stream: log it, tell the client without details
            log.exception("streaming %s failed", request.url.path)
            yield f"data: {json.dumps(error_payload('internal_error', INTERNAL_MESSAGE))}\n\n"
    yield "data: [DONE]\n\n"
