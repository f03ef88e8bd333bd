"""The refusal gate: refuse before generation when the evidence cannot hold an answer."""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from rag.answer.evidence import sentence_scores
from rag.answer.wording import indirect_question
from rag.embed.embedder import Embedder
from rag.retrieve.judge import Judge
from rag.retrieve.lexical import content_terms, key_terms, normalize_term
from rag.thresholds import THRESHOLDS
from rag.types import Evidence, Hit, VerifiedAnswer


def evidence_is_insufficient(question: str, evidence: Sequence[Evidence], embedder: Embedder,
                             judge: Judge | None = None,
                             document_text: Callable[[str], str] | None = None) -> bool:
    """True when the evidence cannot hold an answer (refuse without calling the model).

    Insufficient when there is no evidence, when THRESHOLDS.missing_keys_to_refuse names or numbers
    the question asks with (`missing_keys`) occur neither in the evidence's chunks and titles nor, with
    `document_text` (doc_id -> its text), anywhere in their documents (THRESHOLDS.refuse_on_missing_key),
    or, with a `judge`, when its best probability that one of the evidence's chunks answers is below
    the threshold calibrated in its card (`judge_answerability`). Without a judge: when the best
    relevance score (cosine + lexical_weight * share of question terms) is below
    THRESHOLDS.insufficient_score; the score is
    Evidence.score as select_evidence computed it (on the unwidened sentence), and evidence built
    elsewhere (score 0) is scored here. Tuned on SQuAD v2 and RealTime QA (bench/bench_gate_rules.py).
    """
    if not evidence:
        return True
    texts = [ev.text for ev in evidence]
    missing = missing_keys(question, evidence, document_text)
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


_LATER_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[\"'“‘]?[A-Z])")
_ASKED_KIND = re.compile(r"\b(?:[Ww]hich|[Ww]hat)\s+((?:[A-Z][\w'’.-]*\s+)+)(?=[a-z])")
"""The capitalised words between "which"/"what" and a lower-case noun: "in which South American city"."""
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+")
"""Two or more capitalised words in a row, read as a name whose last word stands for all of it: a surname
("Machado"), and as loosely "Awards" for "Golden Globe Awards" (measured: no SQuAD refusal lost)."""
_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")


def asked_keys(question: str) -> set[str]:
    """The names and numbers of `question` that evidence able to answer it must hold: its key terms
    (rag.retrieve.lexical.key_terms) sentence by sentence, so a later sentence's first word ("Around how
    many ...?") is no name, less the words that describe what is asked for ("which Dutch artist", "in
    which European capital"): the evidence names the answer ("Van Gogh", "Paris") without them."""
    keys = set().union(*(key_terms(part) for part in _LATER_SENTENCE.split(question)))
    for match in _ASKED_KIND.finditer(question):
        keys -= key_terms(f"of {match.group(1)}")
    return keys


def missing_keys(question: str, evidence: Sequence[Evidence],
                 document_text: Callable[[str], str] | None = None) -> set[str]:
    """The question's `asked_keys` found in none of the evidence's chunks and titles and, with
    `document_text` (doc_id -> text, read only while keys are missing), nowhere in their documents: a
    news chunk says "she" of the opposition leader its article names two paragraphs above. A name's
    other words count as found with its last word: news text calls María Corina Machado "Machado"."""
    asked = asked_keys(question)
    missing = asked - hit_terms([ev.hit for ev in evidence])
    if document_text is not None:
        for doc_id in dict.fromkeys(ev.hit.doc_id for ev in evidence):
            if not missing:
                break
            missing -= text_terms(document_text(doc_id))
    for name in _NAME.findall(question):
        terms = [normalize_term(word) for word in name.split()]
        if terms[-1] in asked and terms[-1] not in missing:
            missing -= set(terms[:-1])  # "Machado" found: the evidence names María Corina Machado
    return missing


def text_terms(text: str) -> set[str]:
    """Content terms of `text`; a dotted acronym ("U.S.", "U.K.") also counts as the plain one ("us", "uk")."""
    return content_terms(text) | {a.replace(".", "").lower() for a in _DOTTED.findall(text)}


def hit_terms(hits: Sequence[Hit]) -> set[str]:
    """`text_terms` of the hits' chunks and titles (each chunk read once)."""
    found: set[str] = set()
    for hit in {h.chunk_id: h for h in hits}.values():
        found |= text_terms(hit.chunk.text) | text_terms(hit.title or "")
    return found


def refusal(question: str) -> VerifiedAnswer:
    """The plain 'the documents do not say' answer, with no citations."""
    text = f"The documents do not say {indirect_question(question)}."
    return VerifiedAnswer(text, (), (), True)
