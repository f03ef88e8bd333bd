"""A question's path, top to bottom: retrieve (fused; reranked by the judge when Settings.rerank;
each named party on its own for a comparing question) -> select evidence -> gate (refuse early) ->
prompt -> generate -> verify (the quoted sentence: THRESHOLDS.quote_by_judge) -> sides (a disputed figure shown
with every value and date; each compared party quoted) -> Answer. The caller (Assistant) passes a `StageContext`; this module never sees it whole."""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping, Sequence

from rag.answer.context import StageContext
from rag.answer.evidence import select_evidence
from rag.answer.gate import evidence_is_insufficient, refusal
from rag.answer.prompt import ANSWER_STOP, answer_messages
from rag.answer.sides import comparison_parties, disputed_figure, party_terms, with_dispute, with_parties
from rag.answer.verify import verify_answer
from rag.thresholds import THRESHOLDS
from rag.types import Answer, Evidence, Hit, Message, TokenCallback, VerifiedAnswer


def answer_question(ctx: StageContext, question: str, *, k: int | None = None, doc_ids: Sequence[str] = (),
                    history: Sequence[Message] = (), on_token: TokenCallback | None = None,
                    retrieval_query: str | None = None, as_of: str | None = None) -> Answer:
    """Answer `question` from the index; `retrieval_query` (a rewritten follow-up) drives the search,
    `as_of` (the question's date) anchors the dates it names."""
    settings = ctx.settings
    query = retrieval_query or question
    t0 = time.perf_counter()
    hits = ctx.search(query, k=k, doc_ids=doc_ids, as_of=as_of)
    embedder = ctx.embedder
    parties = comparison_parties(query)
    if parties and hits:
        hits, evidence = party_evidence(ctx, query, parties, hits, k=k, doc_ids=doc_ids, as_of=as_of)
    else:
        evidence = select_evidence(query, hits, embedder, settings) if hits else []
    retrieve_ms = (time.perf_counter() - t0) * 1000
    judge = ctx.judge if THRESHOLDS.quote_by_judge or THRESHOLDS.judge_gate else None
    first_token_ms: float | None = None
    if not evidence or evidence_is_insufficient(query, evidence, embedder,
                                                judge=judge if THRESHOLDS.judge_gate else None,
                                                document_text=lambda doc_id: ctx.document(doc_id).text):
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
        verified = verify_answer(question, "".join(pieces), evidence, embedder,
                                 judge=judge if THRESHOLDS.quote_by_judge else None)
        verified = with_sides(query, verified, hits, evidence)
    return build_answer(question, verified, hits, model=ctx.model_info(), index=index_info(ctx),
                        retrieve_ms=retrieve_ms, first_token_ms=first_token_ms, t0=t0)


def with_sides(query: str, verified: VerifiedAnswer, hits: Sequence[Hit], evidence: Sequence[Evidence]) -> VerifiedAnswer:
    """The verified answer restated as a dispute when the hits disagree on the asked figure, or with
    each compared party quoted (rag.answer.sides); unchanged otherwise."""
    sides = disputed_figure(query, hits)
    if sides:
        return with_dispute(verified, sides)
    parties = comparison_parties(query)
    return with_parties(verified, parties, evidence) if parties else verified


def party_evidence(ctx: StageContext, query: str, parties: Sequence[str], hits: Sequence[Hit], *, k: int | None,
                   doc_ids: Sequence[str], as_of: str | None) -> tuple[list[Hit], list[Evidence]]:
    """Hits and evidence for a question comparing `parties`: each party searched on its own (the
    question without the other parties' names) and its best sentence naming it (and not all the others)
    taken first, then the best of the rest; evidence renumbered 1..n."""
    merged = {h.chunk_id: h for h in hits}
    own: list[Evidence] = []
    for party in parties:
        party_query = query
        for other in parties:
            if other != party:
                party_query = party_query.replace(other, " ")
        party_hits = ctx.search(party_query, k=k, doc_ids=doc_ids, as_of=as_of)
        for hit in party_hits:
            merged.setdefault(hit.chunk_id, hit)
        others = [party_terms(p) for p in parties if p != party]
        own += select_evidence(query, party_hits, ctx.embedder, ctx.settings, max_sources=1,
                               must_hold=party_terms(party), others=others, avoid=own)
    rest = select_evidence(query, list(merged.values()), ctx.embedder, ctx.settings, avoid=own)
    chosen = (own + rest)[: max(THRESHOLDS.max_evidence, len(own) + 1)]
    return list(merged.values()), [dataclasses.replace(ev, n=i) for i, ev in enumerate(chosen, 1)]


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
