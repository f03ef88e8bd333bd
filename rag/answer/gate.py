"""The refusal gate: refuse before generation when the evidence cannot hold an answer."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rag.answer.evidence import sentence_scores
from rag.answer.wording import indirect_question
from rag.embed.embedder import Embedder
from rag.retrieve.judge import Judge
from rag.retrieve.lexical import content_terms, key_terms
from rag.thresholds import THRESHOLDS
from rag.types import Evidence, Hit, VerifiedAnswer


def evidence_is_insufficient(question: str, evidence: Sequence[Evidence], embedder: Embedder,
                             judge: Judge | None = None) -> bool:
    """True when the evidence cannot hold an answer (refuse without calling the model).

    Insufficient when there is no evidence, when THRESHOLDS.missing_keys_to_refuse names or numbers of
    the question occur in none of the evidence's chunks or titles (THRESHOLDS.refuse_on_missing_key),
    or, with a `judge`, when its best probability that one of the evidence's chunks answers is below
    the threshold calibrated in its card (`judge_answerability`). Without a judge: when the best
    relevance score (cosine + lexical_weight * share of question terms) is below
    THRESHOLDS.insufficient_score; the score is
    Evidence.score as select_evidence computed it (on the unwidened sentence), and evidence built
    elsewhere (score 0) is scored here. Tuned on SQuAD v2 (see bench/bench_qa.py --gate).
    """
    if not evidence:
        return True
    texts = [ev.text for ev in evidence]
    missing = key_terms(question) - hit_terms([ev.hit for ev in evidence])
    if THRESHOLDS.refuse_on_missing_key and len(missing) >= THRESHOLDS.missing_keys_to_refuse:
        return True
    if judge is not None:
        return judge_answerability(question, evidence, judge) < judge.threshold
    if all(ev.score > 0.0 for ev in evidence):
        best = max(ev.score for ev in evidence)
    else:
        best = float(np.max(sentence_scores(question, texts, embedder)))
    return best < THRESHOLDS.insufficient_score


def judge_answerability(question: str, evidence: Sequence[Evidence], judge: Judge) -> float:
    """The judge's best probability that one of the evidence's chunks answers the question (a chunk
    already scored by the reranker is not read again)."""
    hits = list({ev.hit.chunk_id: ev.hit for ev in evidence}.values())
    known = [h.judge_score for h in hits if h.judge_score is not None]
    unread = [h.chunk.text for h in hits if h.judge_score is None]
    read = [float(p) for p in judge.score(question, unread)] if unread else []
    return max(known + read, default=0.0)


def hit_terms(hits: Sequence[Hit]) -> set[str]:
    """Content terms of the hits' chunks and titles (each chunk read once)."""
    found: set[str] = set()
    for hit in {h.chunk_id: h for h in hits}.values():
        found |= content_terms(hit.chunk.text) | content_terms(hit.title or "")
    return found


def refusal(question: str) -> VerifiedAnswer:
    """The plain 'the documents do not say' answer, with no citations."""
    text = f"The documents do not say {indirect_question(question)}."
    return VerifiedAnswer(text, (), (), True)
