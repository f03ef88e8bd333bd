"""Answer text + evidence -> sentences with citations the system verified (quote + offsets).

Each answer sentence is checked against every candidate span (a sentence of an evidence span, or
the whole evidence span) with the one support rule of rag.answer.support (key terms, figures,
negation, lexical cover and cosine), spans that read as instructions to the model or pose as its
output excepted (rag.answer.sanitize.not_evidence).
If no single span passes, two spans from different sources may support a sentence together when
every content term of it occurs in one of them and each brings at least two terms of its own.
Among passing spans the one covering most of S wins, then the most similar (the model's [n]
markers add hint_bonus here: they are only a hint), then the shortest; the cited span is always
the one the system found. A sentence that passes nothing is kept with supported=False
and no citation; a sentence that is garbage (no word characters, an exact repeat of an earlier
sentence, a repetition loop, markup/code/URLs, symbol soup, a run-on, an echo of the question) is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.answer.citebook import CitationBook, with_markers
from rag.answer.evidence import sentence_scores
from rag.answer.gate import refusal
from rag.answer.labels import label_match
from rag.answer.prompt import NOT_FOUND
from rag.answer.sanitize import not_evidence
from rag.answer.speakers import asks_author, is_byline
from rag.answer.support import Claim, Source, cover, supports
from rag.embed.embedder import Embedder
from rag.ingest.sentences import split_sentences, trim_span
from rag.retrieve.judge import Judge
from rag.retrieve.lexical import content_terms, overlap
from rag.thresholds import THRESHOLDS
from rag.types import AnswerSentence, Evidence, VerifiedAnswer


@dataclass(frozen=True)
class _Span:
    ev: Evidence
    start: int  # absolute offsets into Document.text
    end: int
    text: str
    source: Source  # the span's terms, the evidence span's and title's terms around it

    @property
    def terms(self) -> frozenset[str]:
        return self.source.terms


_MARKERS = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_MARKER_BEFORE_END = re.compile(r"([.!?])\s*((?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]\s*)+)")
_LEAD_IN = re.compile(
    r"^(?:(?:the\s+)?answer(?:\s+to\s+(?:this|the|your)\s+question)?(?:\s+is)?\s*:\s*"
    r"|(?:according to|based on|as stated in|from)\s+(?:the\s+)?(?:sources?|documents?|text)\s*(?:\d+)?\s*,?\s*"
    r"|sources?\s*\d*\s*:\s*)",
    re.I,
)
_REFUSAL_PHRASE = re.compile(
    r"\b(?:(?:sources?|documents?|texts?|context|passages?)\s+(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:contain|mention|say|provide|include|specify|state|answer)|i\s+(?:do\s+not|don't|cannot|can't)\s+"
    r"(?:know|find|answer)|no\s+information\s+(?:about|on|is)|not\s+mentioned\s+in)\b",
    re.I,
)
_SPECIAL = re.compile(r"<\|[^<>|]{0,40}\|>|</?s>")
_ECHO = re.compile(r"<\s*/?\s*sources\s*>|^\s*question\s*:.*$", re.I | re.M)


def is_not_found(text: str) -> bool:
    """The model said the sources do not hold the answer (NOT FOUND sentinel or a refusal phrase)."""
    stripped = text.strip().strip(".!\"' ")
    return NOT_FOUND in text or stripped.lower() == "not found" or bool(_REFUSAL_PHRASE.search(text))


def echoes_question(sentence: str, asked: set[str]) -> bool:
    """A question in the answer that mostly repeats the asked one (the model echoing it): no claim to check."""
    if not sentence.rstrip().endswith("?"):
        return False
    terms = content_terms(sentence)
    return not terms or overlap(terms, asked) >= THRESHOLDS.echo_share


def _clean(raw: str, evidence: Sequence[Evidence] = ()) -> str:
    text = _SPECIAL.sub(" ", raw)
    text = _TAG_OR_URL.sub(" ", text)
    text = _ECHO.sub(" ", text)
    for ev in evidence:  # echoed source labels "(title)"
        text = text.replace(f"({ev.hit.title or ev.hit.path})", " ")
    text = _MARKER_BEFORE_END.sub(lambda m: " " + m.group(2).strip() + m.group(1) + " ", text)
    return text.strip()


def _answer_sentences(raw: str, evidence: Sequence[Evidence] = ()) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, marker numbers) for each non-garbage sentence of the answer."""
    text = _clean(raw, evidence)
    out: list[tuple[str, tuple[int, ...]]] = []
    seen: set[str] = set()
    for a, b in split_sentences(text):
        piece = text[a:b]
        hints = tuple(int(n) for m in _MARKERS.finditer(piece) for n in re.split(r"[,;]", m.group(1)))
        sentence = _LEAD_IN.sub("", _MARKERS.sub("", piece)).strip()
        sentence = re.sub(r"\s+([.!?,;:])", r"\1", re.sub(r"\s+", " ", sentence))
        if sentence[:1].islower():
            sentence = sentence[0].upper() + sentence[1:]
        norm = " ".join(re.findall(r"\w+", sentence.lower()))
        if not norm:
            if hints and out:
                out[-1] = (out[-1][0], out[-1][1] + hints)
            continue
        if norm in seen or _is_loop(norm) or _is_garbage(sentence):
            continue
        seen.add(norm)
        out.append((sentence, hints))
    return out


_TAG_OR_URL = re.compile(r"</?[a-zA-Z][^<>]{0,200}>|https?://\S+|www\.\S+")
_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|https?://|www\.|[{}`|\\]|&[a-z]+;")
MAX_SENTENCE_CHARS = 600


def _is_garbage(sentence: str) -> bool:
    """Markup, code, URLs, symbol soup or a run-on longer than MAX_SENTENCE_CHARS."""
    if len(sentence) > MAX_SENTENCE_CHARS or _MARKUP.search(sentence):
        return True
    wordish = sum(ch.isalnum() or ch.isspace() or ch in ".,;:!?'\"()%$€£-" for ch in sentence)
    return wordish < 0.9 * len(sentence)


def _is_loop(norm: str) -> bool:
    words = norm.split()
    grams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _spans(evidence: Sequence[Evidence]) -> list[_Span]:
    out: list[_Span] = []
    for ev in evidence:
        pieces = split_sentences(ev.text)
        if len(pieces) != 1:
            pieces = pieces + [(0, len(ev.text))]
        for a, b in pieces:
            a2, b2 = trim_span(ev.text, a, b)
            if b2 > a2 and not not_evidence(ev.text[a2:b2]):
                t = ev.text[a2:b2]
                out.append(_Span(ev, ev.start + a2, ev.start + b2, t, Source.of(t, ev.hit.title or "")))
    return out


def _support(sentence: str, hints: tuple[int, ...], spans: list[_Span], sims: np.ndarray) -> list[_Span]:
    """The span(s) supporting `sentence` under rag.answer.support's rule, or [] when none does."""
    claim = Claim.of(sentence)
    if not claim.terms or not spans:
        return []
    scored = []
    for i, span in enumerate(spans):
        passes = supports(claim, span.source, float(sims[i]))
        bonus = THRESHOLDS.hint_bonus if span.ev.n in hints else 0.0
        scored.append((passes, round(cover(claim, span.source), 2), float(sims[i]) + bonus, -len(span.text), i))
    scored.sort(reverse=True)
    if scored[0][0]:
        return [spans[scored[0][-1]]]
    terms, keys = set(claim.terms), claim.keys
    for *_, i in scored[:4]:
        for *_, j in scored[:6]:
            a, b = spans[i].source, spans[j].source
            if spans[i].ev.n == spans[j].ev.n or not (keys <= (a.found | b.found)):
                continue
            both = a.terms | b.terms | a.title | b.title
            if terms <= both and len(terms & a.terms - b.terms) >= 2 and len(terms & b.terms - a.terms) >= 2:
                return [spans[i], spans[j]]
    return []


def verify_answer(
    question: str,
    raw_answer: str,
    evidence: Sequence[Evidence],
    embedder: Embedder,
    quote_when_unsupported: bool = THRESHOLDS.quote_when_unsupported,
    quote_min_score: float = THRESHOLDS.quote_min_score,
    judge: Judge | None = None,
    refuse_on_not_found: bool = THRESHOLDS.refuse_on_not_found,
) -> VerifiedAnswer:
    """Split, attribute and check every sentence of the model's answer against the evidence.

    Refused (see `refusal`) when there is no evidence, when the model wrote NOT FOUND or a
    refusal phrase and none of its sentences is supported (unless `refuse_on_not_found` is off: then
    the best evidence is quoted, as for an unsupported answer), or when nothing is supported and
    `quote_when_unsupported` is off or the best Evidence.score is below `quote_min_score`.
    Otherwise the answer is the model's sentences (supported ones end with their [n],
    unsupported ones have none and are flagged supported=False), followed, when the supported
    text is thin, missing or only restates the question (THRESHOLDS.new_terms), by the best evidence
    quoted verbatim with its citation:
    'According to <title> (<date>): "<quote>" [n]': with a `judge`, the sentence of the best evidence
    span's chunk it scores best for the question; without one, the best sentence of that span by
    cosine and question-term overlap.
    """
    if not evidence:
        return refusal(question)
    parsed = _answer_sentences(raw_answer, evidence)
    not_found = is_not_found(raw_answer)
    asked = content_terms(question)
    parsed = [(s, h) for s, h in parsed if not is_not_found(s) and not echoes_question(s, asked)]
    spans = _spans(evidence)
    sims = np.zeros((len(parsed), len(spans)), dtype=np.float32)
    if parsed:
        span_vecs = np.asarray(embedder.embed([s.text for s in spans]), dtype=np.float32)
        probes = [s if len(content_terms(s)) >= 4 else f"{question} {s}" for s, _ in parsed]
        sims = np.asarray(embedder.embed(probes), dtype=np.float32) @ span_vecs.T
    book = CitationBook()
    sentences: list[AnswerSentence] = []
    supported_terms: set[str] = set()
    first_support: _Span | None = None
    for k, (text, hints) in enumerate(parsed):
        found = _support(text, hints, spans, sims[k])
        if found:
            first_support = first_support or found[0]
            supported_terms |= content_terms(text)
        sentences.append(AnswerSentence(text, tuple(_cite(book, s) for s in found), bool(found)))
    if not supported_terms and (
        (not_found and refuse_on_not_found) or not quote_when_unsupported
        or max(ev.score for ev in evidence) < quote_min_score
    ):
        return refusal(question)
    says_nothing = bool(supported_terms) and len(supported_terms - asked) < THRESHOLDS.new_terms
    if says_nothing or len(supported_terms) < THRESHOLDS.thin_terms or any(not s.supported for s in sentences):
        quote_span = first_support
        if says_nothing and first_support and not first_support.terms - asked - supported_terms:
            quote_span = None  # the span behind a restated question holds nothing more either
        quote_span = quote_span or _best_for_question(question, evidence, embedder, judge)
        if quote_span and (says_nothing or not first_support
                           or overlap(quote_span.terms, supported_terms) < THRESHOLDS.lex_strong):
            sentences.append(AnswerSentence(_quote_sentence(quote_span), (_cite(book, quote_span),), True))
    if not any(s.supported for s in sentences):
        return refusal(question)
    answer = " ".join(with_markers(s) for s in sentences)
    return VerifiedAnswer(answer, tuple(sentences), tuple(book.citations), False)


def _best_for_question(question: str, evidence: Sequence[Evidence], embedder: Embedder,
                       judge: Judge | None = None) -> _Span | None:
    """The sentence to quote: with a judge, the one it scores best among the sentences of the best
    evidence span's whole chunk (it orders sentences within a passage well, passages less well:
    `bench/bench_judge.py`); without one, the best sentence of that span by cosine and overlap. A label
    line the question asks for ("Chair: ..." for "Who chaired ...?") is preferred to any other sentence, and a
    byline is never the quote unless the question asks who wrote it."""
    ev = evidence[0]
    if judge is not None:
        chunk = ev.hit.chunk
        ev = Evidence(ev.n, ev.hit, chunk.start, chunk.start + len(chunk.text), chunk.text, ev.score)
    spans = [s for s in _spans([ev]) if s.end - s.start < len(ev.text.strip())] or _spans([ev])
    if not spans:
        return None
    if not asks_author(question):
        spans = [s for s in spans if not is_byline(s.text)] or spans
    asked = [s for s in spans if (m := label_match(question, s.text, ev.hit.title or "")) and m.asked]
    spans = asked or spans
    if judge is not None and THRESHOLDS.quote_by_span and len(spans) > 1:
        pointed = _pointed_span(question, ev, spans, judge)
        if pointed is not None:
            return pointed
    if judge is not None:
        scores = judge.score(question, [s.text for s in spans])
    else:
        scores = sentence_scores(question, [s.text for s in spans], embedder)
    return spans[int(np.argmax(scores))]


def _pointed_span(question: str, ev: Evidence, spans: list[_Span], judge: Judge) -> _Span | None:
    """The sentence holding the start of the answer span the judge points at in the evidence's chunk
    (None when it points at none of `spans`, e.g. the answer was cut off or lies in a heading)."""
    reading = judge.read(question, [ev.text])[0]
    if reading.start < 0:
        return None
    at = ev.start + reading.start
    inside = [s for s in spans if s.start <= at < s.end]
    return min(inside, key=lambda s: s.end - s.start) if inside else None


def _quote_sentence(span: _Span) -> str:
    title = span.ev.hit.title or span.ev.hit.path
    date = f" ({span.ev.hit.date})" if span.ev.hit.date else ""
    return f'According to {title}{date}: "{" ".join(span.text.split())}"'


def _cite(book: CitationBook, span: _Span) -> int:
    chunk, hit = span.ev.hit.chunk, span.ev.hit
    return book.number(chunk.doc_id, chunk.chunk_id, hit.path, hit.title, chunk.page, span.start, span.end, span.text)
