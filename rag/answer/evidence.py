"""Hits -> evidence: the few best sentence-level spans of the retrieved chunks for a question."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from rag.answer.sanitize import not_evidence
from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.ingest.sentences import split_sentences
from rag.retrieve.lexical import content_terms, overlap
from rag.thresholds import THRESHOLDS
from rag.types import Evidence, Hit

_PRONOUN_START = re.compile(r"^(it|its|this|that|these|those|they|their|he|his|she|her|such|there)\b", re.I)


def select_evidence(
    question: str, hits: Sequence[Hit], embedder: Embedder, settings: Settings,
    max_sources: int = THRESHOLDS.max_evidence,
) -> list[Evidence]:
    """The few best sentence-level spans of the hits for `question`, best first, numbered 1..n.

    Every sentence of every hit is scored by cosine similarity to the question plus
    THRESHOLDS.lexical_weight times the share of question terms it holds (Evidence.score keeps that score
    of the chosen sentence). A chosen sentence that is short (or opens with a pronoun) is widened
    with its neighbour in the same chunk. Sentences that look like instructions to a model or
    pose as its output (rag.answer.sanitize.not_evidence) rank last and never widen another. Evidence offsets point into
    Document.text (chunk.start + offset in the chunk). `settings` is reserved for
    per-deployment overrides; the limits are fields of rag.thresholds.THRESHOLDS.
    """
    del settings
    candidates: list[tuple[Hit, list[tuple[int, int]], int]] = []
    seen: set[tuple[str, int, int]] = set()
    for hit in hits:
        spans = split_sentences(hit.chunk.text)
        for i, (a, b) in enumerate(spans):
            key = (hit.chunk.doc_id, hit.chunk.start + a, hit.chunk.start + b)
            if key in seen or not hit.chunk.text[a:b].strip():
                continue
            seen.add(key)
            candidates.append((hit, spans, i))
        if len(candidates) >= THRESHOLDS.max_candidate_sentences:
            break
    if not candidates:
        return []
    texts = [h.chunk.text[spans[i][0] : spans[i][1]] for h, spans, i in candidates]
    scores = sentence_scores(question, texts, embedder)
    scores -= np.array([1.0 if not_evidence(t) else 0.0 for t in texts], dtype=np.float32)
    chosen: list[Evidence] = []
    taken: list[tuple[str, int, int]] = []
    for idx in np.argsort(-scores, kind="stable"):
        hit, spans, i = candidates[int(idx)]
        a, b = _widen(hit.chunk.text, spans, i)
        start, end = hit.chunk.start + a, hit.chunk.start + b
        if any(d == hit.chunk.doc_id and start < e and s < end for d, s, e in taken):
            continue
        taken.append((hit.chunk.doc_id, start, end))
        chosen.append(Evidence(len(chosen) + 1, hit, start, end, hit.chunk.text[a:b], float(scores[int(idx)])))
        if len(chosen) >= max_sources:
            break
    return chosen


def sentence_scores(question: str, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
    """Cosine(question, text) + THRESHOLDS.lexical_weight * share of question terms in text, per text."""
    if not texts:
        return np.zeros(0, dtype=np.float32)
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    cosine = np.asarray(embedder.embed(list(texts)), dtype=np.float32) @ query
    q_terms = content_terms(question)
    lexical = np.array([overlap(q_terms, content_terms(t)) for t in texts], dtype=np.float32)
    return cosine + THRESHOLDS.lexical_weight * lexical


def _widen(text: str, spans: list[tuple[int, int]], i: int) -> tuple[int, int]:
    def usable(j: int) -> bool:
        return 0 <= j < len(spans) and not not_evidence(text[spans[j][0] : spans[j][1]])

    a, b = spans[i]
    if _PRONOUN_START.match(text[a:b]) and usable(i - 1):
        a = spans[i - 1][0]
    if b - a < THRESHOLDS.min_evidence_chars:
        if usable(i + 1):
            b = spans[i + 1][1]
        elif usable(i - 1):
            a = min(a, spans[i - 1][0])
    return a, b
