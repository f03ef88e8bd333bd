"""Answer text + evidence -> sentences with citations the system verified (quote + offsets).

Support rule (one answer sentence S against one candidate span P, P being a sentence of an
evidence span or the whole evidence span):
  1. every key term of S (numbers, names: see prompting.key_terms) occurs in the evidence span
     holding P or in its document title;
  2. S and P agree on negation (both or neither hold not/no/never/n't);
  3. lexical support: the share of S's content terms found in P (plus the title) is at least
     LEX_STRONG, or at least LEX_SUPPORT with cosine(S, P) >= SIM_SUPPORT.
If no single span passes, two spans from different sources may support S together (rule 3 on
the union). The model's [n] markers are only a hint that breaks near-ties; the cited span is
always the one the system found. A sentence that passes nothing is kept with supported=False
and no citation; a sentence that is garbage (no word characters, an exact repeat of an earlier
sentence, or a repetition loop) is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .chunking import split_sentences
from .embedding import Embedder
from .prompting import NOT_FOUND, STOPWORDS, content_terms, key_terms, overlap, sentence_scores
from .types import AnswerSentence, Citation, Evidence

LEX_STRONG = 0.85
LEX_SUPPORT = 0.5
SIM_SUPPORT = 0.45
HINT_BONUS = 0.1
"""Score added to spans of the sources the model cited, to break near-ties in their favour."""
THIN_TERMS = 5
"""Supported model text with fewer content terms than this gets the best evidence quoted."""
INSUFFICIENT_SCORE = 0.45
"""Refuse before generation when max(cosine + LEXICAL_WEIGHT * overlap) over the evidence is below."""
REFUSE_ON_MISSING_KEY = True
"""Refuse before generation when a name or number of the question occurs in no evidence."""
QUOTE_WHEN_UNSUPPORTED = True
"""With no supported model sentence (and no NOT FOUND), answer with the best evidence quoted."""


@dataclass(frozen=True)
class VerifiedAnswer:
    """The final answer text, its sentences and the citations they point to."""

    answer: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    refused: bool


@dataclass(frozen=True)
class _Span:
    ev: Evidence
    start: int  # absolute offsets into Document.text
    end: int
    text: str
    terms: frozenset[str]
    context: frozenset[str]  # terms of the whole evidence span and its title


_MARKERS = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_MARKER_BEFORE_END = re.compile(r"([.!?])\s*((?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]\s*)+)")
_LEAD_IN = re.compile(
    r"^(?:answer\s*:\s*|(?:according to|based on|as stated in|from)\s+(?:the\s+)?(?:sources?|documents?|text)"
    r"\s*(?:\d+)?\s*,?\s*|sources?\s*\d*\s*:\s*)",
    re.I,
)
_REFUSAL_PHRASE = re.compile(
    r"\b(?:(?:sources?|documents?|texts?|context|passages?)\s+(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:contain|mention|say|provide|include|specify|state|answer)|i\s+(?:do\s+not|don't|cannot|can't)\s+"
    r"(?:know|find|answer)|no\s+information\s+(?:about|on|is)|not\s+mentioned\s+in)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot)\b|n't\b", re.I)
_SPECIAL = re.compile(r"<\|[^<>|]{0,40}\|>|</?s>")


def evidence_is_insufficient(question: str, evidence: Sequence[Evidence], embedder: Embedder) -> bool:
    """True when the evidence cannot hold an answer (refuse without calling the model).

    Insufficient when there is no evidence, when a name or number of the question occurs in no
    evidence span or title (REFUSE_ON_MISSING_KEY), or when the best relevance score
    (cosine + LEXICAL_WEIGHT * share of question terms) is below INSUFFICIENT_SCORE. The score
    is Evidence.score as select_evidence computed it (on the unwidened sentence); evidence built
    elsewhere (score 0) is scored here. Tuned on SQuAD v2 (see bench/bench_qa.py --gate).
    """
    if not evidence:
        return True
    texts = [ev.text for ev in evidence]
    if REFUSE_ON_MISSING_KEY:
        found: set[str] = set()
        for ev in evidence:
            found |= content_terms(ev.text) | content_terms(ev.hit.title or "")
        if key_terms(question) - found:
            return True
    if all(ev.score > 0.0 for ev in evidence):
        best = max(ev.score for ev in evidence)
    else:
        best = float(np.max(sentence_scores(question, texts, embedder)))
    return best < INSUFFICIENT_SCORE


def is_not_found(text: str) -> bool:
    """The model said the sources do not hold the answer (NOT FOUND sentinel or a refusal phrase)."""
    stripped = text.strip().strip(".!\"' ")
    return NOT_FOUND in text or stripped.lower() == "not found" or bool(_REFUSAL_PHRASE.search(text))


def _clean(raw: str) -> str:
    text = _SPECIAL.sub(" ", raw)
    text = _MARKER_BEFORE_END.sub(lambda m: " " + m.group(2).strip() + m.group(1) + " ", text)
    return text.strip()


def _answer_sentences(raw: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, marker numbers) for each non-garbage sentence of the answer."""
    text = _clean(raw)
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
        if norm in seen or _is_loop(norm):
            continue
        seen.add(norm)
        out.append((sentence, hints))
    return out


def _is_loop(norm: str) -> bool:
    words = norm.split()
    grams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _spans(evidence: Sequence[Evidence]) -> list[_Span]:
    out: list[_Span] = []
    for ev in evidence:
        context = frozenset(content_terms(ev.text) | content_terms(ev.hit.title or ""))
        pieces = split_sentences(ev.text)
        if len(pieces) != 1:
            pieces = pieces + [(0, len(ev.text))]
        for a, b in pieces:
            a2, b2 = _trim(ev.text, a, b)
            if b2 > a2:
                t = ev.text[a2:b2]
                out.append(_Span(ev, ev.start + a2, ev.start + b2, t, frozenset(content_terms(t)), context))
    return out


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def _support(
    sentence: str, hints: tuple[int, ...], spans: list[_Span], sims: np.ndarray, title_terms: list[frozenset[str]]
) -> list[_Span]:
    """The span(s) supporting `sentence` under the module's rule, or [] when none does."""
    terms, keys, negated = content_terms(sentence), key_terms(sentence), _negated(sentence)
    if not terms:
        return []
    scored = []
    for i, span in enumerate(spans):
        lex = overlap(terms, span.terms | title_terms[i])
        ok_keys = keys <= span.context
        ok_neg = _negated(span.text) == negated
        passes = ok_keys and ok_neg and (lex >= LEX_STRONG or (lex >= LEX_SUPPORT and sims[i] >= SIM_SUPPORT))
        bonus = HINT_BONUS if span.ev.n in hints else 0.0
        scored.append((passes, lex + float(sims[i]) + bonus, -len(span.text), i))
    scored.sort(reverse=True)
    if scored[0][0]:
        return [spans[scored[0][3]]]
    for _, _, _, i in scored[:4]:
        for _, _, _, j in scored[:6]:
            a, b = spans[i], spans[j]
            if a.ev.n == b.ev.n or not (keys <= (a.context | b.context)):
                continue
            both = a.terms | b.terms | title_terms[i] | title_terms[j]
            if overlap(terms, both) >= LEX_STRONG and (terms & a.terms) and (terms & b.terms - a.terms):
                return [a, b]
    return []


def verify_answer(
    question: str,
    raw_answer: str,
    evidence: Sequence[Evidence],
    embedder: Embedder,
    quote_when_unsupported: bool = QUOTE_WHEN_UNSUPPORTED,
) -> VerifiedAnswer:
    """Split, attribute and check every sentence of the model's answer against the evidence.

    Refused (see `refusal`) when there is no evidence, when the model wrote NOT FOUND or a
    refusal phrase and none of its sentences is supported, or when nothing is supported and
    `quote_when_unsupported` is off. Otherwise the answer is the model's sentences (supported
    ones end with their [n], unsupported ones have none and are flagged supported=False),
    followed, when the supported text is thin or missing, by the best evidence quoted verbatim
    with its citation: 'According to <title> (<date>): "<quote>" [n]'.
    """
    if not evidence:
        return refusal(question)
    parsed = _answer_sentences(raw_answer)
    not_found = is_not_found(raw_answer)
    parsed = [(s, h) for s, h in parsed if not is_not_found(s)]
    spans = _spans(evidence)
    titles = [frozenset(content_terms(s.ev.hit.title or "")) for s in spans]
    sims = np.zeros((len(parsed), len(spans)), dtype=np.float32)
    if parsed:
        span_vecs = np.asarray(embedder.embed([s.text for s in spans]), dtype=np.float32)
        probes = [s if len(content_terms(s)) >= 4 else f"{question} {s}" for s, _ in parsed]
        sims = np.asarray(embedder.embed(probes), dtype=np.float32) @ span_vecs.T
    book = _CitationBook()
    sentences: list[AnswerSentence] = []
    supported_terms: set[str] = set()
    first_support: _Span | None = None
    for k, (text, hints) in enumerate(parsed):
        found = _support(text, hints, spans, sims[k], titles)
        if found:
            first_support = first_support or found[0]
            supported_terms |= content_terms(text)
        sentences.append(AnswerSentence(text, tuple(book.add(s) for s in found), bool(found)))
    if not supported_terms and (not_found or not quote_when_unsupported):
        return refusal(question)
    if len(supported_terms) < THIN_TERMS or any(not s.supported for s in sentences):
        quote_span = first_support or _best_for_question(question, evidence, embedder)
        if not first_support or overlap(quote_span.terms, supported_terms) < LEX_STRONG:
            sentences.append(AnswerSentence(_quote_sentence(quote_span), (book.add(quote_span),), True))
    answer = " ".join(_with_markers(s) for s in sentences)
    return VerifiedAnswer(answer, tuple(sentences), tuple(book.citations), False)


def _best_for_question(question: str, evidence: Sequence[Evidence], embedder: Embedder) -> _Span:
    ev = evidence[0]
    a, b = _trim(ev.text, 0, len(ev.text))
    return _Span(ev, ev.start + a, ev.start + b, ev.text[a:b], frozenset(content_terms(ev.text)), frozenset())


def _quote_sentence(span: _Span) -> str:
    title = span.ev.hit.title or span.ev.hit.path
    date = f" ({span.ev.hit.date})" if span.ev.hit.date else ""
    return f'According to {title}{date}: "{" ".join(span.text.split())}"'


def _with_markers(sentence: AnswerSentence) -> str:
    if not sentence.citations:
        return sentence.text
    marks = "".join(f"[{n}]" for n in sentence.citations)
    text = sentence.text
    if text.endswith((".", "!", "?")) and not text.endswith('"'):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


class _CitationBook:
    """Citations numbered 1..m in order of first use, one per distinct (doc, start, end)."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._index: dict[tuple[str, int, int], int] = {}

    def add(self, span: _Span) -> int:
        chunk = span.ev.hit.chunk
        key = (chunk.doc_id, span.start, span.end)
        if key not in self._index:
            n = len(self.citations) + 1
            self._index[key] = n
            hit = span.ev.hit
            self.citations.append(
                Citation(n, chunk.doc_id, chunk.chunk_id, hit.path, hit.title, chunk.page, span.start, span.end, span.text)
            )
        return self._index[key]


def refusal(question: str) -> VerifiedAnswer:
    """The plain 'the documents do not say' answer, with no citations."""
    text = f"The documents do not say {indirect_question(question)}."
    return VerifiedAnswer(text, (), (), True)


_WH = ("what", "when", "where", "who", "whom", "whose", "which", "why", "how")
_BE = {"is", "are", "was", "were"}
_AUX = {"can", "could", "will", "would", "should", "may", "might", "must", "has", "have", "had"}
_IRREGULAR = dict(
    pair.split(":")
    for pair in """begin:began become:became break:broke bring:brought build:built buy:bought choose:chose
    come:came cost:cost cut:cut do:did draw:drew drive:drove eat:ate fall:fell feel:felt fight:fought
    find:found fly:flew forget:forgot get:got give:gave go:went grow:grew have:had hear:heard hold:held
    keep:kept know:knew lay:laid lead:led leave:left lend:lent let:let lose:lost make:made mean:meant
    meet:met pay:paid put:put quit:quit read:read ride:rode rise:rose run:ran say:said see:saw seek:sought
    sell:sold send:sent set:set shut:shut sing:sang sit:sat speak:spoke spend:spent stand:stood steal:stole
    strike:struck swear:swore take:took teach:taught tell:told think:thought throw:threw understand:understood
    wake:woke wear:wore win:won withdraw:withdrew write:wrote""".split()
)
_REGULAR = frozenset(
    """accept achieve add agree allow announce appear appoint approve argue arrive ask attack attempt
    ban believe call cause change claim close collapse compare complete consider contain continue create
    decide declare decline defeat deliver demand deny design destroy develop die discover end establish
    expand expect fail finish follow form found happen help hire impose include increase introduce invade
    invent involve join kill last launch learn like live look marry move name need occur offer open order
    own pass perform plan play prefer prepare present prevent produce propose protest prove provide publish
    raise reach receive record reduce refuse reject release remain remove replace report represent require
    resign return reveal rule sign start state stop study suggest support surrender threaten train try turn
    use vote want warn work""".split()
)


def _past(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _third_person(verb: str) -> str:
    if verb in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


_DETERMINERS = frozenset("the a an this that these those its his her their our my your some any each every".split())


def _subject_length(rest: list[str], predicate_needed: bool) -> int:
    """Words at the start of `rest` that plausibly form its subject noun phrase."""
    i = 1
    if rest[0].lower() in _DETERMINERS:
        i = 2
        while i < len(rest) and rest[i].lower() not in STOPWORDS and rest[i][:1].islower():
            i += 1
        if predicate_needed and i >= len(rest) and len(rest) > 2:
            i = len(rest) - 1
    elif rest[0][:1].isupper():
        while i < len(rest) and rest[i][:1].isupper():
            i += 1
    if i + 1 < len(rest) and rest[i].lower() == "of":
        i += 2 if rest[i + 1].lower() not in _DETERMINERS else 3
        while i < len(rest) and rest[i][:1].isupper():
            i += 1
    return min(i, len(rest))


def indirect_question(question: str) -> str:
    """`question` as an indirect question: "When did the crisis begin?" -> "when the crisis began".

    Handles wh- and yes/no questions with be, do/does/did (common verbs) and modal auxiliaries;
    anything else becomes 'the answer to "<question>"'.
    """
    q = " ".join(question.strip().split()).rstrip("?.! ")
    words = q.split(" ")
    if not q:
        return "anything about that"
    lead = words[0].lower()
    if lead in _WH:
        head, aux_at = [lead], 1
        if lead in ("which", "whose", "how") and len(words) > 2 and words[1].lower() not in _BE | _AUX | {"do", "does", "did"}:
            head, aux_at = [lead, words[1]], 2
    else:
        head, aux_at = ["whether"], 0
    if aux_at >= len(words):
        return f'the answer to "{question.strip()}"'
    aux, rest = words[aux_at].lower(), words[aux_at + 1 :]
    if not rest:
        return f'the answer to "{question.strip()}"'
    if aux in ("do", "does", "did"):
        for i, w in enumerate(rest[1:], start=1):
            base = w.lower()
            if base in _IRREGULAR or base in _REGULAR:
                verb = {"did": _past(base), "does": _third_person(base), "do": base}[aux]
                return " ".join(head + rest[:i] + [verb] + rest[i + 1 :])
        return f'the answer to "{question.strip()}"'
    if aux in _BE or aux in _AUX:
        for i, w in enumerate(rest[1:], start=1):
            lw = w.lower()
            if aux in _AUX and (lw in _IRREGULAR or lw in _REGULAR or lw in ("be", "been")):
                return " ".join(head + rest[:i] + [aux] + rest[i:])
            if aux in _BE and (lw.endswith(("ed", "ing")) or lw in _IRREGULAR.values()):
                return " ".join(head + rest[:i] + [aux] + rest[i:])
        n = _subject_length(rest, predicate_needed=head == ["whether"])
        if aux in _AUX and rest[0].lower() in _DETERMINERS:
            n = min(n, 2)
        return " ".join(head + rest[:n] + [aux] + rest[n:])
    if lead in _WH:
        return " ".join([lead] + words[1:])  # the wh-word is the subject: "who signed the treaty"
    return f'the answer to "{question.strip()}"'
