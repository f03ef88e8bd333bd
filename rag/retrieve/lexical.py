"""Content words, names and numbers of a text, and their overlap: the lexical side of matching
questions, answers and evidence (pure functions, no imports from the rest of the package)."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours according however meanwhile overall yes many much one ones another since whose within without
    upon via per among said says say saying told stated added summary""".split()
)
"""Words that carry no content of their own: question words, function words, reporting verbs
("said", "told": a claim and its source rarely share them) and discourse fillers. Negation words are
stopwords too: `has_negation` checks them on their own."""
NEGATIONS = frozenset("not no never none nor neither cannot without".split())
HEDGES = frozenset(
    "recommend recommends recommended recommending recommendation recommendations should could might ought "
    "propose proposes proposed proposal suggest suggests suggested urge urges urged".split())
"""Words that make a clause a recommendation or a possibility rather than a statement of fact
("would" and "will" are left out: reported speech and plain futures use them)."""
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_TOKEN = re.compile(r"[A-Za-z\u00C0-\u024F]+(?:['’][A-Za-z]+)?|\d[\d,.]*\d|\d")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def normalize_term(word: str) -> str:
    """Lowercase, strip accents, drop possessives, map number words to digits, strip a plural/verb -s."""
    w = word.lower().replace("’", "'")
    if not w.isascii():
        w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if w in _NUMBER_WORDS:
        return _NUMBER_WORDS[w]
    if w[:1].isdigit():
        w = w.replace(",", "")
        return w[:-2] if w.endswith(".0") else w.rstrip(".")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """Word tokens of `text` as written (letters and digits, apostrophes kept inside words)."""
    return _WORD.findall(text)


def has_negation(text: str) -> bool:
    """True when `text` holds a negation word (NEGATIONS or an n't contraction)."""
    lowered = text.lower()
    return "n't" in lowered or "n\u2019t" in lowered or any(w.lower() in NEGATIONS for w in words(text))


def is_hedged(text: str) -> bool:
    """True when `text` holds a hedge (HEDGES): a recommendation or a possibility, not a fact."""
    return any(w.lower() in HEDGES for w in words(text))


def content_terms(text: str) -> set[str]:
    """Normalised content words and numbers of `text` (stopwords removed)."""
    return {normalize_term(t) for t in _TOKEN.findall(text) if t.lower() not in STOPWORDS}


def content_words(text: str) -> set[str]:
    """`content_terms` without numbers: the words a claim is about."""
    return {t for t in content_terms(text) if not t[:1].isdigit()}


def key_terms(text: str) -> set[str]:
    """Numbers and names in `text`: terms a supporting span must also contain.

    A name is a capitalised word of two or more letters, not a stopword, and not at the start of
    the text unless it is an acronym; a number is a token with digits (number words do not count,
    since texts write "two" and "2" interchangeably).
    """
    out: set[str] = set()
    for i, match in enumerate(_TOKEN.finditer(text)):
        token = match.group()
        if token.lower() in STOPWORDS or (len(token) < 2 and not token.isdigit()):
            continue
        if token[0].isdigit():
            out.add(normalize_term(token))
        elif token[0].isupper() and (i > 0 or (len(token) > 1 and token.isupper())):
            out.add(normalize_term(token))
    return out


def overlap(needles: set[str], haystack: set[str]) -> float:
    """Share of `needles` found in `haystack` (0 when there are no needles)."""
    return len(needles & haystack) / len(needles) if needles else 0.0
