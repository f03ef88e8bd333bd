"""The refusal gate: refuse before generation when the evidence cannot hold an answer."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rag.answer.evidence import sentence_scores
from rag.answer.wording import indirect_question
from rag.embed.embedder import Embedder
from rag.retrieve.lexical import content_terms, key_terms
from rag.thresholds import THRESHOLDS
from rag.types import Evidence, Hit, VerifiedAnswer


def evidence_is_insufficient(question: str, evidence: Sequence[Evidence], embedder: Embedder) -> bool:
    """True when the evidence cannot hold an answer (refuse without calling the model).

    Insufficient when there is no evidence, when a name or number of the question occurs in none
    of the evidence's chunks or titles (THRESHOLDS.refuse_on_missing_key), or when the best relevance score
    (cosine + lexical_weight * share of question terms) is below THRESHOLDS.insufficient_score. The score
    is Evidence.score as select_evidence computed it (on the unwidened sentence); evidence built
    elsewhere (score 0) is scored here. Tuned on SQuAD v2 (see bench/bench_qa.py --gate).
    """
    if not evidence:
        return True
    texts = [ev.text for ev in evidence]
    if THRESHOLDS.refuse_on_missing_key and key_terms(question) - hit_terms([ev.hit for ev in evidence]):
        return True
    if all(ev.score > 0.0 for ev in evidence):
        best = max(ev.score for ev in evidence)
    else:
        best = float(np.max(sentence_scores(question, texts, embedder)))
    return best < THRESHOLDS.insufficient_score


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
