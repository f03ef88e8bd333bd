"""The structured brief: key points, actors and their positions, tensions, open questions.

Everything is found in the sentences the read step (rag/summary/extractive.py) produced, so every
claim cites verified quotes (quote == Document.text[start:end]); citations are numbered 1..m
in order of first use across the sections, one number per distinct span.

- key points: the verified sentences of the map-reduce summary (unsupported ones are dropped);
- actors: capitalised names (titles and appositives give the role) next to an attribution verb
  (said, warned, announced, ...) or after "according to"; a bare surname, a bare title that
  matches a person's role ("the Minister said") or an organisation's head word ("the Ministry")
  joins the full name; each attributed sentence is a cited position, prefixed with its date;
- tensions: two sources about the same thing (embedding similarity and shared words) giving
  different figures of one kind (percent, money, dates, years, a unit), or two actors (or one
  actor at two dates) taking opposite stances on a shared topic; both sides cited, and where
  the dates differ the wording names the latest source and the earlier one with their dates;
- open questions: sentences that mark something as unresolved (unclear, not yet decided,
  remains to be seen, whether, a question mark, ...), cited where the gap shows.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.generate.generator import Generator
from rag.ingest.readers.common import MONTH_NUMBERS as _MONTHS
from rag.retrieve.lexical import content_words, normalize_term, words
from rag.store.writer import Progress
from rag.summary.actors import FoundActor, find_actors
from rag.summary.extractive import Reading, flat, read_documents, select, with_antecedent
from rag.summary.mapreduce import ReadingCitations, draft_summary
from rag.thresholds import THRESHOLDS
from rag.types import Actor, Brief, Chunk, Claim, DocumentInfo

MAX_POSITIONS = 4
MAX_TENSIONS = 5
MAX_OPEN = 5

POSITIVE = frozenset(
    """support supports supported back backs backed welcome welcomes welcomed endorse endorses endorsed favour
    favours favor favors approve approves approved praise praised essential necessary agree agrees agreed
    champion defend defended benefit benefits""".split())
NEGATIVE = frozenset(
    """oppose opposes opposed reject rejects rejected criticise criticises criticised criticize criticized
    against unfair burden harmful harm scrap scrapped delay delayed doubt doubts object objects objected
    condemn condemned refuse refused protest protested costly unaffordable unrealistic risky concern concerns
    warn warns warned dangerous premature excessive withdraw withdraws withdrew withdrawal sanction sanctions
    penalise penalize punish retaliate retaliation condemns""".split())
_RULE_OUT = re.compile(r"\brul(?:e|es|ed|ing) out\b", re.I)
"""A stance phrase: "ruled out" is against; "has not ruled out" (negated) is for."""

_OPEN = re.compile(
    r"\?|\b(?:unclear|undecided|unresolved|uncertain(?:ty)?|unknown|open question|no decision|yet to|pending|"
    r"whether|not (?:yet )?(?:clear|known|decided|settled|agreed|confirmed|determined|published|specified|final)|"
    r"(?:has|have|had) not (?:yet )?(?:been )?(?:decided|said|confirmed|published|set|specified|explained|agreed)|"
    r"remains? (?:to be|unclear|open|unresolved|undecided|uncertain)|to be (?:decided|determined|confirmed|agreed)|"
    r"did not (?:say|specify|explain|disclose)|declined to|would not say)\b", re.I)

_DATE = re.compile(
    r"\b(?:(?P<iso>\d{4}-\d{2}-\d{2})|(?P<d1>\d{1,2})\s+(?P<m1>[A-Z][a-z]+)\s+(?P<y1>\d{4})|"
    r"(?P<m2>[A-Z][a-z]+)\s+(?:(?P<d2>\d{1,2}),?\s+)?(?P<y2>\d{4}))\b")
_QTY = re.compile(
    r"(?P<cur>[$\u20ac\u00a3])?\s?(?P<num>\d+(?:[.,]\d+)*)(?:\s*(?P<mult>million|billion|bn|thousand|trillion)\b)?"
    r"(?:\s*(?P<unit>%|per ?cent\b|[A-Za-z]+))?")
_CURRENCY_WORDS = frozenset("euro euros dollar dollars pound pounds lira liras crown crowns franc francs".split())


def _quantities(text: str) -> dict[str, dict[str, tuple[str, int, int]]]:
    """Figures by kind ("date", "year", "%", "money" or a unit word): value -> (as written, start, end)."""
    out: dict[str, dict[str, tuple[str, int, int]]] = {}
    taken = []
    for m in _DATE.finditer(text):
        month = (m.group("m1") or m.group("m2") or "").lower()
        if m.group("iso"):
            value = m.group("iso")
        elif month in _MONTHS:
            day = m.group("d1") or m.group("d2")
            value = f"{m.group('y1') or m.group('y2')}-{_MONTHS[month]:02d}" + (f"-{int(day):02d}" if day else "")
        else:
            continue
        out.setdefault("date", {})[value] = (m.group(0), m.start(), m.end())
        taken.append(m.span())
    for m in _QTY.finditer(text):
        if any(a <= m.start("num") < b for a, b in taken):
            continue
        num = re.sub(r",(?=\d{3}\b)", "", m.group("num")).rstrip(".,")
        unit = (m.group("unit") or "").lower()
        span = (m.group(0).strip(), m.start(), m.end())
        if m.group("cur") or unit in _CURRENCY_WORDS:
            kind = "money"
            value = f"{m.group('cur') or unit}{num}{m.group('mult') or ''}"
        elif unit in ("%", "percent", "per cent"):
            kind, value = "%", num
        elif re.fullmatch(r"(19|20)\d\d", num) and not m.group("mult"):
            kind, value, span = "year", num, (num, m.start("num"), m.end("num"))
        elif unit and unit not in STOP_UNITS:
            kind, value = normalize_term(unit), num + (m.group("mult") or "")
        else:
            continue
        out.setdefault(kind, {})[value] = span
    return out


def _context(text: str, start: int, end: int) -> set[str]:
    """Content words among the two words either side of a figure: what the figure is about."""
    return content_words(" ".join(words(text[:start])[-2:] + words(text[end:])[:2]))


STOP_UNITS = frozenset("a an the and or of in on at to by for from with per than as is are was were".split())


def _position(reading: Reading, book: ReadingCitations, i: int) -> Claim:
    """An actor's position: unit i dated, with the sentence before it when it leans on that one."""
    units = with_antecedent(reading, i)
    text = " ".join(flat(reading.units[j].text) for j in units)
    date = reading.date(i)
    return Claim(f"{date}: {text}" if date else text, book.cite_all(units))


def _order(reading: Reading, i: int) -> tuple[str, int, int]:
    return (reading.date(i) or "", reading.doc_rank(reading.units[i].doc_id), i)


def _polarity(text: str) -> int:
    ws = [w.lower() for w in words(text)]
    pos = sum(w in POSITIVE for w in ws)
    neg = sum(w in NEGATIVE for w in ws) + len(_RULE_OUT.findall(text))
    if any(w in ("not", "no", "never") or w.endswith("n't") for w in ws):
        pos, neg = neg, pos
    return (pos > neg) - (neg > pos)


def _pair(reading: Reading, a: int, b: int) -> tuple[int, int]:
    """(latest, earlier) when both dates are known and differ, else (a, b)."""
    da, db = reading.date(a), reading.date(b)
    if da and db and da != db:
        return (a, b) if da > db else (b, a)
    return a, b


def _tension_text(reading: Reading, pair: tuple[int, int], lead: str) -> str:
    """Date-aware wording of a disagreement: the latest source and the earlier one, with dates."""
    new, old = pair

    def label(i: int) -> str:
        return f"{reading.title(i)} ({reading.date(i)})" if reading.date(i) else reading.title(i)

    def quote(i: int) -> str:
        return f"\u201c{flat(reading.units[i].text)}\u201d"

    if reading.date(new) and reading.date(old) and reading.date(new) != reading.date(old):
        text = (f"{lead}: the latest source ({reading.date(new)}, {reading.title(new)}) says {quote(new)}; "
                f"an earlier one ({reading.date(old)}, {reading.title(old)}) said {quote(old)}")
    elif reading.units[new].doc_id == reading.units[old].doc_id:
        text = f"{lead} in {label(new)}: {quote(new)}; {quote(old)}"
    else:
        text = f"{lead}: {label(new)} says {quote(new)}; {label(old)} says {quote(old)}"
    return text if text[-2:-1] in ".!?\"" else text + "."


def _topic_words(text: str) -> set[str]:
    return {w for w in content_words(text) if w not in POSITIVE | NEGATIVE and not w[:1].isdigit()
            and w not in _MONTHS}


def find_tensions(reading: Reading, actors: Sequence[FoundActor]) -> list[tuple[str, tuple[int, int], float]]:
    """(wording, (cited first, cited second), strength) of each disagreement, strongest first."""
    units = [u for u in reading.units if u.eligible]
    figures = {u.index: _quantities(u.text) for u in units}
    topics = {u.index: _topic_words(u.text) for u in units}
    out: list[tuple[str, tuple[int, int], float, tuple[object, ...]]] = []
    with_figures = [u.index for u in units if figures[u.index]]
    sims = reading.vectors[with_figures] @ reading.vectors[with_figures].T
    for x, a in enumerate(with_figures):
        for y in np.nonzero(sims[x, x + 1:] >= THRESHOLDS.same_topic_cosine)[0] + x + 1:
            b, cos = with_figures[y], float(sims[x, y])
            shared = len(topics[a] & topics[b])
            if reading.units[a].doc_id == reading.units[b].doc_id or shared < max(
                    2, THRESHOLDS.same_topic_overlap * min(len(topics[a]), len(topics[b]))):
                continue
            pair = _pair(reading, a, b)
            for kind in sorted(figures[a].keys() & figures[b].keys()):
                first, second = figures[pair[0]][kind], figures[pair[1]][kind]
                if first.keys() == second.keys():
                    continue
                texts = (reading.units[pair[0]].text, reading.units[pair[1]].text)
                sides = ([v for k, v in first.items() if k not in second] or list(first.values()),
                         [v for k, v in second.items() if k not in first] or list(second.values()))
                about = [{w for v in side for w in _context(t, v[1], v[2])} for side, t in zip(sides, texts)]
                if kind == "year":
                    before = [{(words(t[:v[1]])[-1:] or [""])[0].lower() for v in side} for side, t in zip(sides, texts)]
                    if not before[0] & before[1]:
                        continue
                new_only, old_only = ([v[0] for v in side] for side in sides)
                if not about[0] & about[1]:
                    continue
                lead = f"Sources disagree ({', '.join(new_only)} vs {', '.join(old_only)})"
                key = (kind, frozenset(new_only), frozenset(old_only))
                out.append((_tension_text(reading, pair, lead), pair, cos + 0.2, key))
                break
    owner = {i: actor for actor in actors for i in actor.units}
    stances = [(i, _polarity(reading.units[i].text)) for actor in actors for i in actor.units]
    for x, (a, pa) in enumerate(stances):
        for b, pb in stances[x + 1:]:
            if pa * pb >= 0 or a == b:
                continue
            same = owner[a] is owner[b]
            if same and reading.date(a) == reading.date(b):
                continue
            cos = float(reading.vectors[a] @ reading.vectors[b])
            if cos < THRESHOLDS.stance_cosine or not topics.get(a, set()) & topics.get(b, set()):
                continue
            lead = (f"{owner[a].name}'s position changed" if same
                    else f"{owner[a].name} and {owner[b].name} take opposing positions")
            pair = _pair(reading, a, b)
            out.append((_tension_text(reading, pair, lead), pair, cos, ("stance", frozenset(pair))))
    out.sort(key=lambda t: -t[2])
    chosen, seen = [], set()
    for text, pair, strength, key in out:
        if key not in seen and frozenset(pair) not in seen:
            seen.update((key, frozenset(pair)))
            chosen.append((text, pair, strength))
    return chosen[:MAX_TENSIONS]


def find_open_questions(reading: Reading) -> list[int]:
    """Units that say something is unresolved, most salient first."""
    cands = [u.index for u in reading.units if u.eligible and _OPEN.search(u.text)]
    return select(reading, cands, k=MAX_OPEN)


def make_brief(documents: Sequence[DocumentInfo], chunks: Sequence[Chunk], generator: Generator, embedder: Embedder,
               settings: Settings, progress: Progress | None = None) -> Brief:
    """The structured brief of the selected documents; every claim cited (see the module docstring).
    `progress` is reported to as in rag.summary.mapreduce.summarize."""
    reading = read_documents(documents, chunks, embedder, progress)
    book = ReadingCitations(reading)
    if not reading.units:
        return Brief((), (), (), (), (), reading.coverage)
    drafted, _ = draft_summary(reading, generator, embedder, settings, progress=progress)
    key_points = tuple(Claim(d.text, book.cite_all(d.units)) for d in drafted if d.supported and d.units)
    found = find_actors(reading)
    actors = []
    for actor in found:
        picked = select(reading, actor.units, k=MAX_POSITIONS)
        positions = tuple(_position(reading, book, i) for i in sorted(picked, key=lambda i: _order(reading, i)))
        actors.append(Actor(actor.name, actor.role, positions))
    tensions = tuple(Claim(text, book.cite_all(pair)) for text, pair, _ in find_tensions(reading, found))
    open_questions = tuple(Claim(flat(reading.units[i].text), (book.cite(i),)) for i in find_open_questions(reading))
    return Brief(key_points, tuple(actors), tensions, open_questions, tuple(book.citations), reading.coverage)
