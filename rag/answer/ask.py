"""A question's path, top to bottom: retrieve (fused; reranked by the judge when Settings.rerank)
-> select evidence -> gate (refuse early) -> prompt -> generate -> verify (the judge picks the quoted
sentence) -> Answer. The caller (Assistant) passes a `StageContext`; this module never sees it whole."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

from rag.answer.context import StageContext
from rag.answer.evidence import select_evidence
from rag.answer.gate import evidence_is_insufficient, refusal
from rag.answer.prompt import ANSWER_STOP, answer_messages
from rag.answer.verify import verify_answer
from rag.types import Answer, Hit, Message, TokenCallback, VerifiedAnswer


def answer_question(ctx: StageContext, question: str, *, k: int | None = None, doc_ids: Sequence[str] = (),
                    history: Sequence[Message] = (), on_token: TokenCallback | None = None,
                    retrieval_query: str | None = None, as_of: str | None = None) -> Answer:
    """Answer `question` from the index; `retrieval_query` (a rewritten follow-up) drives the search,
    `as_of` (the question's date) anchors the dates it names."""
    settings = ctx.settings
    query = retrieval_query or question
    t0 = time.perf_counter()
    hits = ctx.search(query, k=k, doc_ids=doc_ids, as_of=as_of)
    retrieve_ms = (time.perf_counter() - t0) * 1000
    embedder = ctx.embedder
    evidence = select_evidence(query, hits, embedder, settings) if hits else []
    judge = ctx.judge
    first_token_ms: float | None = None
    if not evidence or evidence_is_insufficient(query, evidence, embedder):
        verified = refusal(question)
    else:
        generator = ctx.generator
        messages = answer_messages(question, evidence, history, context_window=generator.context_window,
                                   count_tokens=generator.count_tokens, reserve_tokens=settings.max_tokens)
        pieces: list[str] = []
        with ctx.generation_lock:
            for piece in generator.stream(messages, max_tokens=settings.max_tokens, stop=ANSWER_STOP):
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - t0) * 1000
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
        verified = verify_answer(question, "".join(pieces), evidence, embedder, judge=judge)
    return build_answer(question, verified, hits, model=ctx.model_info(), index=index_info(ctx),
                        retrieve_ms=retrieve_ms, first_token_ms=first_token_ms, t0=t0)


def index_info(ctx: StageContext) -> dict[str, object]:
    """The index fields an Answer carries."""
    return {"version": ctx.stats()["version"], "path": str(ctx.index_dir)}


def build_answer(question: str, verified: VerifiedAnswer, hits: Sequence[Hit], *, model: Mapping[str, object],
                 index: Mapping[str, object], retrieve_ms: float, first_token_ms: float | None,
                 t0: float) -> Answer:
    """The Answer record from a verified answer and the timings of its run (`t0` its start)."""
    total_ms = (time.perf_counter() - t0) * 1000
    return Answer(
        question=question, answer=verified.answer, refused=verified.refused, sentences=verified.sentences,
        citations=() if verified.refused else verified.citations, model=dict(model), index=dict(index),
        timings={"retrieve_ms": round(retrieve_ms, 1),
                 "first_token_ms": round(first_token_ms, 1) if first_token_ms is not None else None,
                 "total_ms": round(total_ms, 1)},
        chunk_ids=tuple(h.chunk_id for h in hits))
