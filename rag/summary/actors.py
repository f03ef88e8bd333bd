"""Actors of a brief: the people and organisations the documents attribute positions to.

A name (a capitalised run; a title and an appositive give the role: "US Secretary of State Rex
Tillerson", "Viktor Ozerov, a top Russian lawmaker for defense,") next to a reporting or stance verb
(said, insisted, indicated, "has not ruled out", ...) or after "according to" is an actor; each
sentence attributing something to it is one of its positions. A bare surname ("Yun"), a bare title
matching a person's role ("the Minister said") or an organisation's head word ("the Ministry") joins
the full name, so one person under two spellings is one actor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.retrieve.lexical import words
from rag.summary.extractive import Reading

MAX_ACTORS = 8

_VERBS = (
    "said|says|stated|states|argued|argues|warned|warns|announced|announces|told|tells|claimed|claims|"
    "insisted|insists|noted|notes|added|explained|proposed|proposes|promised|pledged|suggested|suggests|wrote|"
    "confirmed|confirms|denied|denies|rejected|rejects|criticised|criticized|criticises|criticizes|welcomed|"
    "welcomes|called|calls|urged|urges|believes|estimated|estimates|predicted|predicts|expects|recommended|"
    "recommends|opposed|opposes|supported|supports|backed|backs|questioned|maintained|maintains|countered|"
    "acknowledged|cautioned|objected|disputed|accepted|endorsed|endorses|wants|favours|favors|agreed|agrees|"
    "indicated|indicates|signalled|signaled|signals|hinted|hints|stressed|stresses|emphasised|emphasized|"
    "asserted|asserts|declared|declares|vowed|vows|threatened|threatens|conceded|concedes|admitted|admits|"
    "reiterated|reiterates|demanded|demands|condemned|condemns|dismissed|dismisses|described|describes|"
    "(?:ruled|rules|rule|ruling) out|refused to rule out|declined to rule out"
)
"""Reporting and stance verbs: "said", "insisted", "indicated", "has not ruled out" (with _ADVERB's "not")."""
_CAP = r"[A-Z][\w'\u2019\-]*\.?"
_NAME = rf"{_CAP}(?:\s+(?:(?:of|for|the|de|van|von|du|da|la|on)\s+)?{_CAP})*"
_APPOS = r"(?:,\s+(?P<appos>[^,;.]{3,120}?),)?"
_ADVERB = (r"(?:(?:has|have|had|also|again|publicly|repeatedly|previously|later|now|then|recently|not|never|"
           r"swiftly|quickly|strongly|firmly|openly|sharply|so\s+far|yet|already|did|does|do)\s+){0,3}")
_SUBJECT_VERB = re.compile(rf"(?P<name>{_NAME}){_APPOS}\s+{_ADVERB}(?P<verb>{_VERBS})\b")
_VERB_SUBJECT = re.compile(
    rf"\b(?:said|says|added|wrote|argued|warned|noted|stated|explained|insisted|cautioned)\s+"
    rf"(?P<name>{_NAME})(?:,\s+(?P<appos>[^,;.]{{3,120}}))?")
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
SOURCE_WORDS = frozenset(
    """treaty act law report survey study data figures statistics constitution convention agreement charter
    plan census index poll review article regulation directive rules guidelines""".split())
"""Head words of documents and instruments: "according to the Non-Proliferation Treaty" names a source,
not an actor with a position."""
NOT_NAMES = frozenset(
    """it this that these those they he she we i you there here but and however meanwhile officials critics
    analysts experts residents economists observers sources opponents supporters campaigners lawmakers
    ministers authorities some many most both each others people several monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october november
    december in on at by for if when while after before as one two three""".split())


@dataclass
class FoundActor:
    """An actor while it is being found: its name, role and the reading units attributing to it."""

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
    while cut >= 0 and len(tokens) - cut > 3 and tokens[cut + 1] in ("of", "for") and tokens[cut + 2][:1].isupper():
        cut += 2  # "Secretary of State Rex Tillerson", "Minister for Trade Anja Karlsson"
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


def _alias_of(alias: FoundActor, actor: FoundActor) -> bool:
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


def find_actors(reading: Reading) -> list[FoundActor]:
    """Named people and organisations with the units that attribute something to them."""
    found: dict[str, FoundActor] = {}
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
                if tokens[-1].lower() in SOURCE_WORDS:
                    continue
                actor = found.setdefault(name, FoundActor(name, first=u.index))
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
