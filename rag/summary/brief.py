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
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.generate.generator import Generator
from rag.ingest.readers.common import MONTH_NUMBERS as _MONTHS
from rag.retrieve.lexical import content_words, normalize_term, words
from rag.store.writer import Progress
from rag.summary.extractive import Reading, flat, read_documents, select
from rag.summary.mapreduce import ReadingCitations, draft_summary
from rag.thresholds import THRESHOLDS
from rag.types import Actor, Brief, Chunk, Claim, DocumentInfo

MAX_ACTORS = 8
MAX_POSITIONS = 4
MAX_TENSIONS = 5
MAX_OPEN = 5

_VERBS = (
    "said|says|stated|states|argued|argues|warned|warns|announced|announces|told|tells|claimed|claims|"
    "insisted|insists|noted|notes|added|explained|proposed|proposes|promised|pledged|suggested|suggests|wrote|"
    "confirmed|confirms|denied|denies|rejected|rejects|criticised|criticized|criticises|criticizes|welcomed|"
    "welcomes|called|calls|urged|urges|believes|estimated|estimates|predicted|predicts|expects|recommended|"
    "recommends|opposed|opposes|supported|supports|backed|backs|questioned|maintained|maintains|countered|"
    "acknowledged|cautioned|objected|disputed|accepted|endorsed|endorses|wants|favours|favors|agreed|agrees"
)
_CAP = r"[A-Z][\w'\u2019\-]*\.?"
_NAME = rf"{_CAP}(?:\s+(?:(?:of|for|the|de|van|von|du|da|la|on)\s+)?{_CAP})*"
_APPOS = r"(?:,\s+(?P<appos>[^,;.]{3,80}?),)?"
_ADVERB = r"(?:(?:has|have|had|also|again|publicly|repeatedly|previously|later|now|then|recently)\s+){0,2}"
_SUBJECT_VERB = re.compile(rf"(?P<name>{_NAME}){_APPOS}\s+{_ADVERB}(?P<verb>{_VERBS})\b")
_VERB_SUBJECT = re.compile(
    rf"\b(?:said|says|added|wrote|argued|warned|noted|stated|explained|insisted|cautioned)\s+"
    rf"(?P<name>{_NAME})(?:,\s+(?P<appos>[^,;.]{{3,80}}))?")
_PERSON = re.compile(r"(?:[A-Z][\w'\u2019\-]+\s+){1,3}[A-Z][\w'\u2019\-]+")
_ACCORDING = re.compile(rf"\baccording to (?:the\s+)?(?P<name>{_NAME})")

TITLES = frozenset(
    """minister prime president vice deputy secretary senator governor mayor director chair chairman chairwoman
    chairperson chief commissioner professor prof spokesperson spokesman spokeswoman head ceo ambassador judge
    general admiral captain inspector commander cmdr representative rep sen gov mp councillor councilman
    treasurer chancellor premier president-elect speaker auditor ombudsman""".split())
LEADING_WORDS = frozenset("the a an yesterday today earlier later separately also last next then".split())
HONORIFICS = frozenset("mr mrs ms mx dr sir dame lord lady".split())
ROLE_WORDS = TITLES | frozenset(
    """head leader official economist analyst engineer mayor member adviser advisor researcher founder manager
    officer lawmaker coordinator expert scientist campaigner activist spokesperson president""".split())
ORG_WORDS = frozenset(
    """ministry authority agency council union association commission party bank institute office company
    corporation group federation chamber department board committee operator fund ltd inc plc parliament
    government coalition cabinet court university society alliance network trust utility utilities""".split())
NOT_NAMES = frozenset(
    """it this that these those they he she we i you there here but and however meanwhile officials critics
    analysts experts residents economists observers sources opponents supporters campaigners lawmakers
    ministers authorities some many most both each others people several monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october november
    december in on at by for if when while after before as one two three""".split())

POSITIVE = frozenset(
    """support supports supported back backs backed welcome welcomes welcomed endorse endorses endorsed favour
    favours favor favors approve approves approved praise praised essential necessary agree agrees agreed
    champion defend defended benefit benefits""".split())
NEGATIVE = frozenset(
    """oppose opposes opposed reject rejects rejected criticise criticises criticised criticize criticized
    against unfair burden harmful harm scrap scrapped delay delayed doubt doubts object objects objected
    condemn condemned refuse refused protest protested costly unaffordable unrealistic risky concern concerns
    warn warns warned dangerous premature excessive""".split())

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


@dataclass
class _Actor:
    name: str
    role: str = ""
    organisation: bool = False
    first: int = 0
    units: list[int] = field(default_factory=list)


def _split_name(raw: str) -> tuple[str, str]:
    """(name, role) from a capitalised run such as "Finance Minister Ana Petrov"."""
    tokens = raw.split()
    while tokens and tokens[0].lower().rstrip(".") in LEADING_WORDS:
        tokens = tokens[1:]
    cut = -1
    for j, tok in enumerate(tokens[:-1]):
        if tok.lower().rstrip(".") in TITLES | HONORIFICS:
            cut = j
    role = " ".join(t for t in tokens[:cut + 1] if t.lower().rstrip(".") not in HONORIFICS)
    name = " ".join(tokens[cut + 1:]).rstrip(".,")
    if not role and tokens and tokens[-1].lower() in TITLES:
        role = name
    if name.endswith(("'s", "\u2019s")):
        name = name[:-2]
    return name, role


def _role_before(text: str, start: int) -> str:
    """A lower-case role written just before a name, e.g. "finance minister" in "finance minister Ana Petrov"."""
    before = words(text[max(0, start - 60):start])[-3:]
    for j in range(len(before)):
        tail = before[j:]
        if tail and tail[-1].lower() in ROLE_WORDS and all(w.islower() for w in tail):
            return " ".join(tail)
    return ""


_NOT_ROLE_START = frozenset("through in at on with by from for after before speaking who which whose while".split())


def _clean_role(appos: str | None) -> str:
    if not appos:
        return ""
    ws = appos.split()
    if not any(w.lower().strip("()") in ROLE_WORDS for w in ws) or ws[0].lower() in _NOT_ROLE_START:
        return ""
    return " ".join(ws[1:] if ws[0].lower() in ("the", "a", "an") else ws)


def _alias_of(alias: _Actor, actor: _Actor) -> bool:
    """A person's surname, a bare title found in a person's role, or an organisation's head word."""
    tokens, short = actor.name.split(), alias.name
    if len(tokens) < 2 or alias is actor:
        return False
    if actor.organisation:
        return alias.organisation and tokens[0] == short
    titles = short.lower().split()
    return tokens[-1] == short or (all(t in TITLES for t in titles) and titles[-1] in actor.role.lower().split())


def _extend_org(text: str, start: int, name: str) -> str:
    """Join "Ministry of Coastal Affairs" + "and" + "Energy" into one organisation name."""
    m = re.search(rf"({_NAME})\s+and\s+$", text[:start])
    if m and any(t.lower() in ORG_WORDS | TITLES for t in m.group(1).split()):
        return f"{m.group(1)} and {name}"
    return name


def find_actors(reading: Reading) -> list[_Actor]:
    """Named people and organisations with the units that attribute something to them."""
    found: dict[str, _Actor] = {}
    for u in reading.units:
        if not u.eligible:
            continue
        for pattern in (_SUBJECT_VERB, _VERB_SUBJECT, _ACCORDING):
            for m in pattern.finditer(u.text):
                office = _extend_org(u.text, m.start("name"), m.group("name"))
                appos = (m.groupdict().get("appos") or "").strip()
                if _PERSON.fullmatch(appos) and any(t.lower() in TITLES for t in office.split()):
                    name, role = appos, " ".join(t for t in office.split() if t.lower() not in LEADING_WORDS)
                else:
                    name, role = _split_name(office)
                tokens = name.split()
                if not tokens or tokens[0].lower().rstrip(".") in NOT_NAMES or len(name) < 3:
                    continue
                actor = found.setdefault(name, _Actor(name, first=u.index))
                actor.organisation = actor.organisation or any(t.lower() in ORG_WORDS for t in tokens)
                role = role or _clean_role(appos) or _role_before(u.text, m.start("name"))
                actor.role = actor.role or role
                if u.index not in actor.units:
                    actor.units.append(u.index)
    for short in [n for n in found if len(n.split()) == 1 or all(t.lower() in TITLES for t in n.split())]:
        full = [n for n, a in found.items() if _alias_of(found[short], a)]
        if len(full) == 1:
            target, alias = found[full[0]], found.pop(short)
            target.units = sorted(set(target.units) | set(alias.units))
            target.role = target.role or alias.role
            target.first = min(target.first, alias.first)
    for actor in found.values():
        if actor.organisation and not actor.role:
            actor.role = "organisation"
    return sorted(found.values(), key=lambda a: (-len(a.units), a.first))[:MAX_ACTORS]


def _dated(reading: Reading, i: int) -> str:
    date = reading.date(i)
    return f"{date}: {flat(reading.units[i].text)}" if date else flat(reading.units[i].text)


def _order(reading: Reading, i: int) -> tuple[str, int, int]:
    return (reading.date(i) or "", reading.doc_rank(reading.units[i].doc_id), i)


def _polarity(text: str) -> int:
    ws = [w.lower() for w in words(text)]
    pos = sum(w in POSITIVE for w in ws)
    neg = sum(w in NEGATIVE for w in ws)
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


def find_tensions(reading: Reading, actors: Sequence[_Actor]) -> list[tuple[str, tuple[int, int], float]]:
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
        positions = tuple(Claim(_dated(reading, i), (book.cite(i),))
                          for i in sorted(picked, key=lambda i: _order(reading, i)))
        actors.append(Actor(actor.name, actor.role, positions))
    tensions = tuple(Claim(text, book.cite_all(pair)) for text, pair, _ in find_tensions(reading, found))
    open_questions = tuple(Claim(flat(reading.units[i].text), (book.cite(i),)) for i in find_open_questions(reading))
    return Brief(key_points, tuple(actors), tensions, open_questions, tuple(book.citations), reading.coverage)
