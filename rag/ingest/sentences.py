"""Sentence splitting with exact offsets, shared by chunking, evidence selection and citations.

Pure Python with regexes (no model download is possible here).
"""

from __future__ import annotations

import re

MAX_SENTENCE_CHARS = 400

_REF = r"\[\d{1,3}(?:\s*[,;\u2013-]\s*\d{1,3})*\]"  # citation markers such as [1] or [2, 3]
_TERM = re.compile(r"(?<![.!?\u2026])([.!?\u2026]+)((?:[\"'\u201d\u2019\u00bb)\]}]|" + _REF + r")*)(?=\s|$)")
_TRAILING_REFS = re.compile(r"(?:[ \t]*" + _REF + r")+")
WHITESPACE = re.compile(r"\s*")
_NEXT_WORD = re.compile(r"[\"'\u201c\u2018\u00ab(\[{]*(\w*)")
_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_LIST_MARK = re.compile(r"\d{1,3}|[A-Za-z]|[ivxIVX]{1,4}")
_WORDCHAR = re.compile(r"\w")
_RULE = re.compile(r"(?:[-*_=~]\s*){3,}")
MD_HEADING_LINE = re.compile(r"#{1,6}(?:\s|$)")
BULLET = re.compile(r"(?:[-*+\u2022\u25aa\u25e6\u2023\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba\u2013]|\d{1,3}[.)]|[a-z][.)]|\([0-9A-Za-z]{1,4}\))\s")
# abbreviations never ending a sentence; ending one unless a number follows; ending one only before a starter word
_TITLES = frozenset(
    "mr mrs ms mx dr prof rev hon gen col lt sgt capt cpt adm maj cmdr gov sen rep pres amb fr messrs mme mlle "
    "supt insp det pvt cpl brig atty e.g i.e vs viz cf approx ca incl resp".split()
)
_NUMBERED = frozenset("no nos vol vols fig figs p pp eq eqs art sec ch para ref tab op jan feb mar apr jun jul "
                      "aug sep sept oct nov dec".split())
_WEAK = frozenset("inc ltd corp co llc plc jr sr st mt esq al bros dept univ ave blvd rd".split())
_STARTERS = frozenset(
    "the this that these those it its he she they we i you in on at as if but and or so yet however "
    "a an there their his her our my when while after before since for with what who why how where "
    "which although though because meanwhile moreover furthermore also then thus still some many most "
    "all one both each such during despite according under over by from to no not".split()
)
_CONNECTORS = frozenset("the a an of and or to in for with on at by from as that is are was were".split())


def trim_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def is_heading_like(text: str, a: int, b: int) -> bool:
    """A short single line without closing punctuation that starts with a capital or digit."""
    if b - a > 80 or not (text[a].isupper() or text[a].isdigit()) or text[b - 1] in ".!?,;:-\u2013":
        return False
    words = text[a:b].split()
    return len(words) <= 12 and words[-1].lower() not in _CONNECTORS and not BULLET.match(text, a, b)


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Trimmed (start, end) of each line in text[start:end]; blank lines are empty spans."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        out.append(trim_span(text, pos, stop))
        pos = stop + 1
    return out


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Hard-separated blocks: paragraphs, bullet items, headings, table rows."""
    lines = _lines(text, start, end) + [(end, end)]
    blocks: list[list[int]] = []
    open_block = False  # whether blocks[-1] may still grow
    for (a, b), (na, nb) in zip(lines, lines[1:]):
        if a == b or _RULE.fullmatch(text, a, b):
            open_block = False
        elif MD_HEADING_LINE.match(text, a, b) or text[a] == "|":
            blocks.append([a, b])
            open_block = False
        elif BULLET.match(text, a, b):
            blocks.append([a, b])
            open_block = True
        elif (
            (not open_block or text[blocks[-1][1] - 1] in ".!?\"'\u201d\u2019)")
            and na < nb
            and is_heading_like(text, a, b)
            and (text[na].isupper() or text[na].isdigit() or text[na] in "\"'\u201c#|-*\u2022")
        ):
            blocks.append([a, b])
            open_block = False
        elif open_block:
            blocks[-1][1] = b
        else:
            blocks.append([a, b])
            open_block = True
    return [(a, b) for a, b in blocks]


def _is_boundary(text: str, m: re.Match[str], nxt: int, begin: int, end: int) -> bool:
    word_match = _NEXT_WORD.match(text, nxt, end)
    word = word_match.group(1) if word_match else ""
    if word[:1].islower():
        return False
    if m.group(1) != "." or m.group(2):
        return True
    ms = m.start()
    lo = max(begin, ms - 40)
    ws = max(text.rfind(" ", lo, ms), text.rfind("\n", lo, ms), text.rfind("\t", lo, ms))
    if ws == -1 and lo > begin:
        return True
    tok_start = ws + 1 if ws != -1 else lo
    tok = text[tok_start:ms].lstrip("\"'\u201c\u2018([{")
    if not tok:
        return True
    if _LIST_MARK.fullmatch(tok):
        window = max(begin, tok_start - 9)
        nl = text.rfind("\n", window, tok_start)
        line_start = nl + 1 if nl != -1 else (begin if window == begin else -1)
        if line_start != -1 and not text[line_start:tok_start].strip():
            return False  # a list marker such as "1." or "b." at the start of a line
    low = tok.lower()
    if low in _TITLES:
        return False
    starter = word.lower() in _STARTERS
    if low in _NUMBERED:
        return False if word[:1].isdigit() else starter
    if (len(tok) == 1 and tok.isalpha()) or low in _WEAK or _ACRONYM.fullmatch(tok):
        initial_next = len(word) == 1 and text[word_match.end() : word_match.end() + 1] == "."
        return starter and not initial_next  # "J. A. Smith" stays whole
    return True


def _split_block(text: str, a: int, b: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    s = a
    for m in _TERM.finditer(text, a, b):
        e = m.end()
        if e >= b:
            break
        refs = _TRAILING_REFS.match(text, e, b)
        if refs:  # "... was delayed. [2] The ..." keeps its marker
            e = refs.end()
        nxt = WHITESPACE.match(text, e, b).end()
        if nxt >= b:
            break
        if _is_boundary(text, m, nxt, a, b):
            spans.append((s, e))
            s = nxt
    spans.append((s, b))
    return spans


def _split_long(text: str, s: int, e: int, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    while e - s > limit:
        lo, hi = s + limit // 2, s + limit
        cut = -1
        for mark in (";", ","):
            pos = text.rfind(mark, lo, hi)
            if pos != -1:
                cut = pos + 1
                break
        if cut == -1:
            pos = max(text.rfind(" ", lo, hi), text.rfind("\n", lo, hi), text.rfind("\t", lo, hi))
            cut = pos if pos != -1 else hi
        a, b = trim_span(text, s, cut)
        if a < b:
            out.append((a, b))
        s = WHITESPACE.match(text, cut, e).end()
    if s < e:
        out.append((s, e))
    return out


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets into `text`) inside text[start:end], trimmed of whitespace.

    Blank lines, bullet items, Markdown headings, table rows and short heading-like lines always
    end a sentence; common abbreviations, initials, decimals and dotted acronyms do not; a
    sentence longer than MAX_SENTENCE_CHARS is cut at the last ';', ',' or space before the limit.
    Spans without any letter or digit are left out.
    """
    end = len(text) if end is None else min(end, len(text))
    start = max(0, start)
    spans: list[tuple[int, int]] = []
    for a, b in _blocks(text, start, end):
        for s, e in _split_block(text, a, b):
            for span in _split_long(text, s, e):
                if _WORDCHAR.search(text, span[0], span[1]):
                    spans.append(span)
    return spans
