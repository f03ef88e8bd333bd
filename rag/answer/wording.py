"""Plain-English rewording of a question as an indirect question, for refusals
("When did the crisis begin?" -> "when the crisis began")."""

from __future__ import annotations

from rag.retrieve.lexical import STOPWORDS

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
        auxiliaries = _BE | _AUX | {"do", "does", "did"}
        if lead in ("which", "whose", "how") and len(words) > 2 and words[1].lower() not in auxiliaries:
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
