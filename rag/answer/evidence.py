"""Hits -> evidence: the few best sentence-level spans of the retrieved chunks for a question."""

from __future__ import annotations

import re
from typing import Collection, Sequence

import numpy as np

from rag.answer.labels import OPENING_CHARS, label_match
from rag.answer.sanitize import not_evidence
from rag.answer.speakers import asks_author, is_byline, speaker, speaks
from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.ingest.sentences import split_sentences
from rag.retrieve.lexical import content_terms, overlap
from rag.thresholds import THRESHOLDS
from rag.types import Evidence, Hit

_PRONOUN_START = re.compile(r"^(it|its|this|that|these|those|they|their|he|his|she|her|such|there)\b", re.I)


def select_evidence(
    question: str, hits: Sequence[Hit], embedder: Embedder, settings: Settings,
    max_sources: int = THRESHOLDS.max_evidence, must_hold: Collection[str] = (),
    others: Sequence[Collection[str]] = (), avoid: Sequence[Evidence] = (),
) -> list[Evidence]:
    """The few best sentence-level spans of the hits for `question`, best first, numbered 1..n.

    Every sentence of every hit is scored by cosine similarity to the question plus
    THRESHOLDS.lexical_weight times the share of question terms it holds (Evidence.score keeps that score
    of the chosen sentence). A chosen sentence that is short (or opens with a pronoun) is widened
    with its neighbour in the same chunk. A label line ("Chair: Rosa Lindqvist MP", rag.answer.labels) is
    scored with its document's title and matches the question words sharing its label's stem, and gains
    THRESHOLDS.label_asked when the question asks for what it labels, and then, in a document's opening
    block, its span runs from the top of the chunk. Sentences that look like instructions to a model or
    pose as its output (rag.answer.sanitize.not_evidence) rank last and never widen another. Sentences of
    hits inside the dates the question asks about (Hit.in_dates) gain THRESHOLDS.evidence_in_dates.
    Evidence offsets point into Document.text (chunk.start + offset in the chunk). `settings` is reserved for
    per-deployment overrides; the limits are fields of rag.thresholds.THRESHOLDS. With `must_hold`,
    only sentences holding all those content terms (in them or their document's title), and none of
    `others`' (a list naming every party states no one's position), are candidates; spans overlapping `avoid` are skipped.
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
            if must_hold:
                named = content_terms(hit.chunk.text[a:b])
                if not set(must_hold) <= named | content_terms(hit.title or "") or any(set(o) <= named for o in others):
                    continue
            seen.add(key)
            candidates.append((hit, spans, i))
        if len(candidates) >= THRESHOLDS.max_candidate_sentences:
            break
    if not candidates:
        return []
    texts = [h.chunk.text[spans[i][0] : spans[i][1]] for h, spans, i in candidates]
    labelled = [label_match(question, t, h.title or "") for t, (h, _, _) in zip(texts, candidates)]
    scored = [f"{h.title}. {t}" if m and h.title and h.title not in t else t
              for t, m, (h, _, _) in zip(texts, labelled, candidates)]
    scores = sentence_scores(question, scored, embedder, [set(m.terms) if m else None for m in labelled])
    scores += np.array([THRESHOLDS.label_asked if m and m.asked else 0.0 for m in labelled], dtype=np.float32)
    scores += _speaker_scores(question, texts)
    scores -= np.array([1.0 if not_evidence(t) else 0.0 for t in texts], dtype=np.float32)
    scores += np.array([THRESHOLDS.evidence_in_dates if h.in_dates else 0.0 for h, _, _ in candidates],
                       dtype=np.float32)
    chosen: list[Evidence] = []
    taken: list[tuple[str, int, int]] = [(ev.hit.chunk.doc_id, ev.start, ev.end) for ev in avoid]
    for idx in np.argsort(-scores, kind="stable"):
        hit, spans, i = candidates[int(idx)]
        a, b = _widen(hit.chunk.text, spans, i)
        label = labelled[int(idx)]
        if label and label.asked and hit.chunk.start + a <= OPENING_CHARS:
            a = spans[0][0]
        start, end = hit.chunk.start + a, hit.chunk.start + b
        if any(d == hit.chunk.doc_id and start < e and s < end for d, s, e in taken):
            continue
        taken.append((hit.chunk.doc_id, start, end))
        chosen.append(Evidence(len(chosen) + 1, hit, start, end, hit.chunk.text[a:b], float(scores[int(idx)])))
        if len(chosen) >= max_sources:
            break
    return chosen


def _speaker_scores(question: str, texts: Sequence[str]) -> np.ndarray:
    """-1 for bylines and datelines, or THRESHOLDS.label_asked when the question asks who wrote it (a byline
    is a label of the author); +THRESHOLDS.speaker_said for
    sentences in which the person a "What did X say ...?" question names speaks (rag.answer.speakers)."""
    author, who = asks_author(question), speaker(question)
    return np.array([((THRESHOLDS.label_asked if author else -1.0) if is_byline(t) else 0.0)
                     + (THRESHOLDS.speaker_said if who and speaks(t, who) else 0.0) for t in texts], dtype=np.float32)


def sentence_scores(question: str, texts: Sequence[str], embedder: Embedder,
                    terms: Sequence[set[str] | None] | None = None) -> np.ndarray:
    """Cosine(question, text) + THRESHOLDS.lexical_weight * share of question terms in text, per text
    (in `terms[i]` instead of the text's own content terms, where given)."""
    if not texts:
        return np.zeros(0, dtype=np.float32)
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    cosine = np.asarray(embedder.embed(list(texts)), dtype=np.float32) @ query
    q_terms = content_terms(question)
    own = terms or [None] * len(texts)
    lexical = np.array([overlap(q_terms, t if t is not None else content_terms(text)) for text, t in zip(texts, own)],
                       dtype=np.float32)
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
