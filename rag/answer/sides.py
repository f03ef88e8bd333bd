"""Answers with more than one side: a figure the sources disagree on, and a question comparing named parties.

Disputes. A figure question ("how much", "by how much", "how many", "what share/percentage/rate...")
is disputed when sentences of the retrieved chunks from different documents give different values,
in the same unit, for what the question asks: the number is bound to at least two of the question's
content words among the `BIND_WINDOW` words before it (not past another number), as the support rule
binds figures, and not negated ("not the 340 million"). The answer then says that the sources
disagree, gives each value with its document's date (oldest first) and quotes each side; the model's
sentences that state one of the disputed values as plain fact are left out.

Comparisons. A question naming two or more parties joined by "and", "with", "or", "versus" beside a
comparing word ("compare", "differ", "between", "disagree", ...) is answered from each of them: the
caller retrieves and selects evidence per party (`comparison_parties`), and a party that none of the
supported sentences covers is quoted from its own best evidence sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag.answer.citebook import CitationBook, with_markers
from rag.ingest.sentences import split_sentences, trim_span
from rag.retrieve.lexical import STOPWORDS, content_terms, content_words, normalize_term, words
from rag.types import AnswerSentence, Citation, Evidence, Hit, VerifiedAnswer

BIND_WINDOW = 6
"""Words before a number that may name what it measures (rag.thresholds.THRESHOLDS.figure_window)."""
SCAN_HITS = 8
"""Retrieved chunks read for disputed figures; the answer's own k is usually smaller."""

_FIGURE_QUESTION = re.compile(
    r"\b(?:how\s+(?:much|many|far|large|big|high|low|fast)|by\s+what|what\s+(?:share|percentage|proportion|"
    r"number|amount|figure|rate|level|sum|total|cost|value|price)|at\s+what\s+(?:rate|level|price))\b", re.I)
_FIGURE = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(?:\s*(%|per\s?cent\b)|\s+([A-Za-z]+))?")
_NEGATED_BEFORE = re.compile(r"\b(?:not|rather\s+than|instead\s+of|down\s+from|up\s+from|from)\s+(?:the\s+|an?\s+)?$",
                             re.I)
_COMPARING = re.compile(r"\b(?:compar\w*|differ\w*|between|versus|vs\.?|contrast\w*|disagree\w*|agree\w*|"
                        r"against|whereas|both)\b", re.I)
_NAME = r"(?:[A-Z][\w'’\-]*|of|for|on|the)(?:\s+(?:[A-Z][\w'’\-]*|of|for|on|the))*"
_PARTIES = re.compile(rf"(?:the\s+)?({_NAME})(?:'s|’s)?\s*,?\s+(?:and|with|or|versus|vs\.?|against)\s+"
                      rf"(?:that\s+of\s+|those\s+of\s+)?(?:the\s+)?({_NAME})")
_EDGE_WORDS = frozenset("of for on the".split())


@dataclass(frozen=True)
class Side:
    """One side of a disputed figure or of a comparison: what it says (`label`) and the quoted sentence."""

    label: str
    hit: Hit
    start: int  # absolute offsets into Document.text
    end: int
    text: str


def is_figure_question(question: str) -> bool:
    """True for questions that ask for a number ("how much", "by how much", "what share" ...)."""
    return bool(_FIGURE_QUESTION.search(question))


def _bound_figures(sentence: str, asked: set[str]) -> list[tuple[str, str]]:
    """(value, unit) of each figure of `sentence` bound to at least two words of `asked` (or all, when
    fewer), not negated and with a unit."""
    need = min(2, len(asked))
    out = []
    for m in _FIGURE.finditer(sentence):
        unit = "%" if m.group(2) else (m.group(3) or "").lower()
        if not unit or unit in STOPWORDS or not need or _NEGATED_BEFORE.search(sentence[: m.start()]):
            continue
        before: list[str] = []
        for token in reversed(words(sentence[: m.start()])[-BIND_WINDOW:]):
            if token[:1].isdigit():
                break
            before.append(token)
        if len(asked & {normalize_term(w) for w in before}) >= need:
            out.append((m.group(1).replace(",", ""), normalize_term(unit) if unit != "%" else "%"))
    return out


def disputed_figure(question: str, hits: Sequence[Hit]) -> list[Side]:
    """The sides of a figure the retrieved documents disagree on (one per value, oldest document first),
    or [] when the question asks no figure or the documents agree (see the module docstring)."""
    if not is_figure_question(question):
        return []
    asked = content_words(question)
    found: dict[tuple[str, str], Side] = {}
    docs_by_unit: dict[str, set[str]] = {}
    for hit in hits[:SCAN_HITS]:
        text = hit.chunk.text
        for a, b in split_sentences(text):
            a, b = trim_span(text, a, b)
            for value, unit in _bound_figures(text[a:b], asked):
                key = (unit, value)
                if key not in found:
                    shown = value + ("%" if unit == "%" else f" {unit}")
                    found[key] = Side(shown, hit, hit.chunk.start + a, hit.chunk.start + b, text[a:b])
                docs_by_unit.setdefault(unit, set()).add(hit.chunk.doc_id)
    for unit, docs in docs_by_unit.items():
        sides = [s for (u, _), s in found.items() if u == unit]
        if len(docs) >= 2 and len({s.hit.chunk.doc_id for s in sides}) >= 2:
            return sorted(sides, key=lambda s: (s.hit.date or "9999", s.hit.rank))
    return []


def comparison_parties(question: str) -> list[str]:
    """The named parties a comparing question sets side by side ("How do the Harbour Institute and the
    Nordic Policy Forum differ?" -> ["Harbour Institute", "Nordic Policy Forum"]), else []."""
    if not _COMPARING.search(question):
        return []
    for m in _PARTIES.finditer(question):
        first = m.group(1)
        if m.start(1) == len(question) - len(question.lstrip()) and not first.split()[0].isupper():
            first = first.partition(" ")[2]  # a capital at the start of the question is not a name
        names = [_trim_name(first), _trim_name(m.group(2))]
        if all(names) and names[0].lower() != names[1].lower():
            return names
    return []


def _trim_name(name: str) -> str:
    parts = name.split()
    while parts and (parts[0].lower() in _EDGE_WORDS or parts[0].lower() in STOPWORDS):
        parts.pop(0)
    while parts and parts[-1].lower() in _EDGE_WORDS:
        parts.pop()
    return " ".join(parts)


def party_terms(party: str) -> set[str]:
    """The content terms a sentence must hold to speak of `party`."""
    return content_terms(party)


def _rebook(verified: VerifiedAnswer, sentences: Sequence[AnswerSentence], sides: Sequence[Side],
            sides_first: bool) -> tuple[CitationBook, list[int], list[AnswerSentence]]:
    """A fresh numbering in reading order: the sides (one number each) and the kept sentences' own
    citations, the sides first when they are read first."""
    book = CitationBook()
    side_numbers = [_number(book, s) for s in sides] if sides_first else []
    old = {c.n: c for c in verified.citations}
    kept = []
    for sentence in sentences:
        numbers = tuple(_renumber(book, old[n]) for n in sentence.citations if n in old)
        kept.append(AnswerSentence(sentence.text, numbers, sentence.supported))
    if not sides_first:
        side_numbers = [_number(book, s) for s in sides]
    return book, side_numbers, kept


def _number(book: CitationBook, side: Side) -> int:
    hit = side.hit
    return book.number(hit.chunk.doc_id, hit.chunk.chunk_id, hit.path, hit.title, hit.chunk.page, side.start,
                       side.end, side.text)


def _renumber(book: CitationBook, c: Citation) -> int:
    return book.number(c.doc_id, c.chunk_id, c.path, c.title, c.page, c.start, c.end, c.quote)


def quote_side(side: Side) -> str:
    """'According to <title> (<date>): "<quote>"', the sentence that quotes one side."""
    title = side.hit.title or side.hit.path
    date = f" ({side.hit.date})" if side.hit.date else ""
    return f'According to {title}{date}: "{" ".join(side.text.split())}"'


def with_dispute(verified: VerifiedAnswer, sides: Sequence[Side]) -> VerifiedAnswer:
    """The answer restated as a dispute: which values the sources give, with dates, each side quoted;
    model sentences stating a disputed value, and quotes of the same spans, are dropped."""
    values = {s.label.split()[0].rstrip("%") for s in sides}
    quoted = {" ".join(s.text.split()) for s in sides}
    rest = [s for s in verified.sentences if s.supported and not _states_value(s.text, values)
            and not any(q in s.text for q in quoted)]
    book, numbers, kept = _rebook(verified, rest, sides, sides_first=True)
    listed = "; ".join(f"{s.label} ({s.hit.title or s.hit.path}{', ' + s.hit.date if s.hit.date else ''})"
                       for s in sides)
    sentences = [AnswerSentence(f"The sources disagree: {listed}.", tuple(numbers), True)]
    sentences += [AnswerSentence(quote_side(s), (n,), True) for s, n in zip(sides, numbers)]
    dated = [s for s in sides if s.hit.date]
    if len(dated) >= 2 and dated[-1].hit.date != dated[-2].hit.date:
        latest = dated[-1]
        sentences.append(AnswerSentence(f"The most recent of them ({latest.hit.date}) gives {latest.label}.",
                                        (numbers[sides.index(latest)],), True))
    sentences += kept
    return _assemble(sentences, book)


def _states_value(text: str, values: set[str]) -> bool:
    return any(m.group(1).replace(",", "") in values for m in _FIGURE.finditer(text))


def with_parties(verified: VerifiedAnswer, parties: Sequence[str], evidence: Sequence[Evidence]) -> VerifiedAnswer:
    """The answer with each compared party covered: a party that no supported sentence speaks of is quoted
    from the best evidence span that names it, in its text or its document's title (evidence is in
    order, best first). A sentence naming every party (a list of witnesses) speaks of none of them."""
    if verified.refused:
        return verified
    all_terms = [party_terms(p) for p in parties]

    def speaks_of(terms: set[str], text_terms: set[str]) -> bool:
        return terms <= text_terms and not all(t <= text_terms for t in all_terms)

    said = [content_terms(s.text) for s in verified.sentences if s.supported]
    cited = {(c.doc_id, c.start, c.end) for c in verified.citations}
    sides = []
    for party, terms in zip(parties, all_terms):
        if any(speaks_of(terms, s) for s in said):
            continue
        for ev in evidence:
            named = content_terms(ev.text) | content_terms(ev.hit.title or "")
            if speaks_of(terms, named) and (ev.hit.chunk.doc_id, ev.start, ev.end) not in cited:
                a, b = trim_span(ev.text, 0, len(ev.text))
                sides.append(Side(party, ev.hit, ev.start + a, ev.start + b, ev.text[a:b]))
                break
    if not sides:
        return verified
    book, numbers, kept = _rebook(verified, verified.sentences, sides, sides_first=False)
    quotes = [AnswerSentence(quote_side(s), (n,), True) for s, n in zip(sides, numbers)]
    return _assemble(kept + quotes, book)


def _assemble(sentences: Sequence[AnswerSentence], book: CitationBook) -> VerifiedAnswer:
    ordered = sorted(book.citations, key=lambda c: c.n)
    return VerifiedAnswer(" ".join(with_markers(s) for s in sentences), tuple(sentences), tuple(ordered), False)
