"""Who said what: bylines are not statements, and a "What did X say about Y?" question is answered by
what X said (pure functions).

A byline or dateline ("Ingrid Halvorsen, Senior Fellow for Energy Security, 22 May 2026", "By Lena
Varga", "Lena Varga / Nordic Energy Forum") names an author and a date; it is evidence only for a
question about authorship ("Who wrote the note?"). A sentence speaks for X when it names X (full name
or surname) beside a reporting verb or a quotation.
"""

from __future__ import annotations

import re

from rag.ingest.readers.common import is_dateline

_NAME = r"[A-Z][\w'’\-]+(?:\s+(?:van|von|de|da|del|la|le)?\s*[A-Z][\w'’\-]+){1,3}"
_BYLINE_LINE = re.compile(rf"(?:[Bb]y\s+)?{_NAME}(?:\s*,\s*[^,.!?\n]{{2,80}}){{0,3}}")
_NAME_LINE = re.compile(rf"(?:{_NAME}|[A-Z][\w'’\-]+)(?:\s+(?:of|for|and|the|on)?\s*[A-Z][\w'’\-]+)*")
_AUTHORSHIP = re.compile(r"\b(?:wrote|write|writes|written|author|authors|authored|byline|by whom)\b", re.I)
_SPEAKER_QUESTION = re.compile(
    rf"\b(?i:what|how)\s+(?i:did|does|do|has|have|had)\s+(?:the\s+)?(?P<name>{_NAME}|[A-Z][\w'’\-]+)\s+"
    r"(?i:say|said|argue|think|write|claim|propose|warn|recommend|suggest|tell|state|believe|want|insist|"
    r"predict|expect|describe|see|view)\b")
_REPORTING = re.compile(
    r"\b(?:said|says|say|told|tells|argued|argues|warned|warns|stated|states|insisted|insists|noted|notes|added|"
    r"wrote|writes|claimed|claims|believes|urged|urges|called|calls|recommended|recommends|proposed|proposes|"
    r"suggested|suggests|explained|indicated|cautioned|predicted|expects|described|according\s+to)\b|[\"“”]")


def is_byline(text: str) -> bool:
    """True when `text` (one to three short lines, with no sentence stop) only names an author, a role,
    an organisation and a date."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines or len(lines) > 3 or text.rstrip()[-1:] in ".!?\"”":
        return False
    first, rest = lines[0], lines[1:]
    if not rest and is_dateline(first):
        return True
    if not _BYLINE_LINE.fullmatch(first) or len(first.split()) > 16:
        return False
    return all(_NAME_LINE.fullmatch(line) and len(line.split()) <= 8 for line in rest)


def asks_author(question: str) -> bool:
    """True for questions about who wrote something, for which a byline is the evidence."""
    return bool(_AUTHORSHIP.search(question))


def speaker(question: str) -> str | None:
    """The person a "What did X say ...?" question asks about, else None."""
    m = _SPEAKER_QUESTION.search(question)
    return m.group("name") if m else None


def speaks(sentence: str, name: str) -> bool:
    """True when `sentence` names `name` (or its last word, the surname) beside a reporting verb or a quote."""
    surname = name.split()[-1]
    named = name in sentence or re.search(rf"\b{re.escape(surname)}\b", sentence) is not None
    return named and bool(_REPORTING.search(sentence)) and not is_byline(sentence)
