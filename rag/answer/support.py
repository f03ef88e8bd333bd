"""Does a source span support a claim? The one rule behind every citation: answers, summaries, briefs.

A claim (an answer sentence, or one clause of a summary sentence) is supported by a source span
(a sentence of the evidence or of a document) when all of these hold:
  1. every key term of the claim (numbers and names, rag.retrieve.lexical.key_terms) occurs in
     the source's context (the span, the passage around it and its document title);
  2. what each figure is said to measure is in the source too: the content words of the two
     words before a number of the claim occur in the span or the title;
  3. the claim and the clause of the span that shares most of its words agree on negation;
  4. lexical cover: the share of the claim's content terms found in the span (plus the title) is
     at least `lex_strong`, or at least `lex_support` with cosine(claim, span) >= `sim_support` and
     at most one content term in `uncovered_per` (at least one) missing.
The thresholds are fields of rag.thresholds.THRESHOLDS, each naming the bench that measures it.
Callers rank passing spans as they need (answers by cover, similarity and the model's [n] hints;
summaries by lexical + cosine order); the rule itself is the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.retrieve.lexical import content_terms, content_words, has_negation, key_terms, overlap, words
from rag.thresholds import THRESHOLDS

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CLAUSE = re.compile(r"\s*[;:]\s+|,\s+(?:and|but|while|whereas|although)\s+|\s+(?:but|whereas)\s+")


def clauses(text: str) -> list[str]:
    """A sentence cut into clauses that each must be supported on their own (short tails merged)."""
    parts = [p for p in _CLAUSE.split(text) if p and p.strip()]
    out: list[str] = []
    for p in parts:
        if out and len(content_words(p)) < 2:
            out[-1] += " " + p
        else:
            out.append(p)
    return out or [text]


@dataclass(frozen=True)
class Claim:
    """A sentence or clause to check, with its terms read once."""

    text: str
    terms: frozenset[str]
    keys: frozenset[str]
    measures: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, text: str) -> "Claim":
        """Read `text`: content terms, key terms, the words naming its figures, negation."""
        measured: set[str] = set()
        for m in _NUMBER.finditer(text):
            measured |= content_words(" ".join(words(text[: m.start()])[-2:]))
        return cls(text, frozenset(content_terms(text)), frozenset(key_terms(text)), frozenset(measured),
                   has_negation(text))


@dataclass(frozen=True)
class Source:
    """A span that may support claims: its terms, its wider context and its title's terms."""

    text: str
    terms: frozenset[str]
    context: frozenset[str]
    title: frozenset[str] = frozenset()

    @classmethod
    def of(cls, text: str, context: str = "", title: str = "") -> "Source":
        """Read a span; `context` is the passage around it (key terms may come from there)."""
        terms = frozenset(content_terms(text))
        title_terms = frozenset(content_terms(title))
        return cls(text, terms, terms | frozenset(content_terms(context)) | title_terms, title_terms)

    def negation_for(self, claim: Claim) -> bool:
        """Negation of the clause of this span that shares most content terms with `claim`."""
        parts = clauses(self.text)
        best = max(parts, key=lambda c: len(claim.terms & content_terms(c))) if len(parts) > 1 else self.text
        return has_negation(best)


def cover(claim: Claim, source: Source) -> float:
    """Share of the claim's content terms found in the span or its title."""
    return overlap(set(claim.terms), set(source.terms | source.title))


def supports(claim: Claim, source: Source, cosine: float) -> bool:
    """The support rule of the module docstring; `cosine` is the embedding similarity of the two."""
    if not claim.terms:
        return False
    found = source.terms | source.title
    if not claim.keys <= source.context or not claim.measures <= found:
        return False
    lex = overlap(set(claim.terms), set(found))
    uncovered = len(claim.terms - found)
    lexical = lex >= THRESHOLDS.lex_strong or (
        lex >= THRESHOLDS.lex_support and cosine >= THRESHOLDS.sim_support
        and uncovered <= max(1, len(claim.terms) // THRESHOLDS.uncovered_per)
    )
    return lexical and source.negation_for(claim) == claim.negated
