"""Label lines ("Chair: Rosa Lindqvist MP", "From: Press Office") as evidence: the label names what the
value is, so a question asking for it ("Who chaired the session?") matches the label's word stem, and
the line is read with its document's title, which says what the label belongs to (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.retrieve.lexical import STOPWORDS, content_terms, normalize_term, words

_LABEL_LINE = re.compile(r"([A-Z][A-Za-z'’/& -]{0,40}?)\s*:[ \t]+(\S[^\n]{0,200})")
OPENING_CHARS = 600
"""A label line starting this close to the top of its document belongs to the document's header block,
and its evidence span runs from the top so the reader (and the model) sees what it labels."""


_JOINERS = frozenset("of and for in".split())


def label_of(sentence: str) -> str | None:
    """The label of a one-line "Label: value" sentence, else None. A label is one to four words, none of
    them a stopword except "of", "and", "for", "in" between others ("Chair", "Date of issue", "From")."""
    m = _LABEL_LINE.fullmatch(sentence.strip())
    if not m:
        return None
    parts = m.group(1).split()
    if len(parts) > 4 or parts[-1].lower() in _JOINERS:
        return None
    if any(p.lower() in STOPWORDS and p.lower() not in _JOINERS for p in parts[1:]):
        return None
    return m.group(1)


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """The English Snowball stem of a lowercased word ("chaired", "chairs" -> "chair")."""
    import Stemmer

    return _stemmer(Stemmer).stemWord(word.lower())


@lru_cache(maxsize=1)
def _stemmer(module: object) -> object:
    return module.Stemmer("english")  # type: ignore[attr-defined]


ASKED_BY = {
    "from": ("send", "sent", "sender", "wrote", "written", "issued"),
    "to": ("recipient", "addressed", "sent"),
    "by": ("wrote", "written", "author", "authored"),
    "author": ("wrote", "written"),
}
"""Question words that ask for a label which shares no stem with them ("Who sent the memo?" for "From:").
"When" and "where" are left out: "Date: 16 April 2026" heads a press release, and "When does the levy
take effect?" does not ask for it."""


@dataclass(frozen=True)
class LabelMatch:
    """How a label line reads for a question: its terms (its own, its title's, and the question terms its
    label answers) and whether the question asks for what the label names."""

    terms: frozenset[str]
    asked: bool


def label_match(question: str, sentence: str, title: str) -> LabelMatch | None:
    """The label line `sentence` read for `question` (see LabelMatch), or None when it is not a label line.
    A question asks for the label when one of its words shares the label's stem ("chaired" for "Chair:")
    or is one of ASKED_BY's words for it ("sent" for "From:")."""
    label = label_of(sentence)
    if label is None:
        return None
    label_words = [w.lower() for w in words(label)]
    stems = {stem(w) for w in label_words}
    q_words = [w.lower() for w in words(question)]
    asked_terms = {normalize_term(w) for w in q_words if stem(w) in stems and w not in STOPWORDS}
    synonyms = {a for w in label_words for a in ASKED_BY.get(w, ())}
    asked = bool(asked_terms) or any(w in synonyms for w in q_words)
    terms = content_terms(sentence) | content_terms(title) | asked_terms
    return LabelMatch(frozenset(terms), asked)
