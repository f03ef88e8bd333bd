"""Does a source span support a claim? The one rule behind every citation: answers, summaries, briefs.

A claim (an answer sentence, or one clause of a summary sentence) is supported by a source span
(a sentence of the evidence or of a document: the quote a reader checks) when all of these hold:
  1. every key term of the claim (numbers, dates and names, rag.retrieve.lexical.key_terms)
     occurs in the span or its document title: a reader sees each of them in the quote;
  2. each figure measures the same thing: for every number of the claim with content words among
     the two words before it, one of those words occurs shortly before the same number in the span
     (within `figure_window` words, not past another number), or in the title. "The levy will raise
     340 million" is not supported by "the levy would raise 310 million, not the 340 million
     stated by the Ministry";
  3. the claim and the clause of the span that shares most of its words agree on negation, and a
     plain claim is not supported by a hedged clause (rag.retrieve.lexical.HEDGES: "We recommend
     that the Office complete a revaluation" does not support "The Office completed a revaluation");
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

from rag.retrieve.lexical import (
    content_terms,
    content_words,
    has_negation,
    is_hedged,
    key_terms,
    normalize_term,
    overlap,
    words,
)
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


def _figures(text: str, window: int) -> tuple[tuple[str, frozenset[str]], ...]:
    """(number, normalised content words among the `window` words before it, not past another
    number) for every number of `text`."""
    tokens = words(text)
    out = []
    for i, token in enumerate(tokens):
        if not _NUMBER.fullmatch(token):
            continue
        before: list[str] = []
        for previous in reversed(tokens[max(0, i - window):i]):
            if _NUMBER.fullmatch(previous):
                break
            before.append(previous)
        out.append((normalize_term(token), frozenset(normalize_term(w) for w in content_words(" ".join(before)))))
    return tuple(out)


@dataclass(frozen=True)
class Claim:
    """A sentence or clause to check, with its terms read once."""

    text: str
    terms: frozenset[str]
    keys: frozenset[str]
    figures: tuple[tuple[str, frozenset[str]], ...]
    negated: bool
    hedged: bool

    @classmethod
    def of(cls, text: str) -> "Claim":
        """Read `text`: content terms, key terms, each figure with the words naming it, negation, hedging."""
        return cls(text, frozenset(content_terms(text)), frozenset(key_terms(text)), _figures(text, 2),
                   has_negation(text), is_hedged(text))


@dataclass(frozen=True)
class Source:
    """A span that may support claims: its terms, its wider context and its title's terms."""

    text: str
    terms: frozenset[str]
    title: frozenset[str] = frozenset()
    figures: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def of(cls, text: str, title: str = "") -> "Source":
        """Read a span (the quote) and its document title."""
        return cls(text, frozenset(content_terms(text)), frozenset(content_terms(title)),
                   _figures(text, THRESHOLDS.figure_window))

    @property
    def found(self) -> frozenset[str]:
        """What a reader of the quote sees: the span's terms and the title's."""
        return self.terms | self.title

    def clause_for(self, claim: Claim) -> str:
        """The clause of this span that shares most content terms with `claim`."""
        parts = clauses(self.text)
        return max(parts, key=lambda c: len(claim.terms & content_terms(c))) if len(parts) > 1 else self.text

    def measures(self, claim: Claim) -> bool:
        """Rule 2: each figure of the claim is named in the span as the claim names it."""
        for number, named in claim.figures:
            if not named or named & self.title:
                continue
            if not any(n == number and named & before for n, before in self.figures):
                return False
        return True


def cover(claim: Claim, source: Source) -> float:
    """Share of the claim's content terms found in the span or its title."""
    return overlap(set(claim.terms), set(source.terms | source.title))


def supports(claim: Claim, source: Source, cosine: float) -> bool:
    """The support rule of the module docstring; `cosine` is the embedding similarity of the two."""
    if not claim.terms:
        return False
    found = source.found
    if not claim.keys <= found or not source.measures(claim):
        return False
    lex = overlap(set(claim.terms), set(found))
    uncovered = len(claim.terms - found)
    lexical = lex >= THRESHOLDS.lex_strong or (
        lex >= THRESHOLDS.lex_support and cosine >= THRESHOLDS.sim_support
        and uncovered <= max(1, len(claim.terms) // THRESHOLDS.uncovered_per)
    )
    if not lexical:
        return False
    clause = source.clause_for(claim)
    return has_negation(clause) == claim.negated and (claim.hedged or not is_hedged(clause))
