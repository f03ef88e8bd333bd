"""Chat follow-ups: the rewrite prompt and the standalone question built from the history."""

from __future__ import annotations

import re
from typing import Sequence

from rag.answer.prompt import HISTORY_MAX_CHARS, HISTORY_MESSAGES, clip_text
from rag.answer.sanitize import neutralize
from rag.retrieve.lexical import STOPWORDS, content_terms, overlap
from rag.types import Message

REWRITE_SYSTEM = (
    "Rewrite the follow-up question so that it can be understood without the conversation. "
    "Replace pronouns with the names they refer to. Reply with the rewritten question only."
)
_REWRITE_EXAMPLE = (
    "Conversation:\nUser: Who chairs the budget committee?\n"
    "Assistant: Maria Lopez chairs the budget committee [1].\n"
    "Follow-up: When was she appointed?",
    "When was Maria Lopez appointed chair of the budget committee?",
)


def rewrite_messages(history: Sequence[Message], question: str) -> list[Message]:
    """Chat messages asking the model to turn a follow-up into a standalone question (one few-shot)."""
    lines = []
    for m in list(history)[-HISTORY_MESSAGES:]:
        if m.get("role") in ("user", "assistant") and m.get("content"):
            who = "User" if m["role"] == "user" else "Assistant"
            lines.append(f"{who}: {neutralize(clip_text(m['content'], HISTORY_MAX_CHARS), redact=False)}")
    conversation = "\n".join(lines)
    example_in, example_out = _REWRITE_EXAMPLE
    return [
        {"role": "system", "content": REWRITE_SYSTEM},
        {"role": "user", "content": example_in},
        {"role": "assistant", "content": example_out},
        {"role": "user", "content": f"Conversation:\n{conversation}\nFollow-up: {neutralize(question, redact=False)}"},
    ]


_PERSON_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers)\b", re.I)
_THING_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those)\b(?!\s+(?:is|was|are|were)\s+\w+ing)", re.I
)
_NAME = re.compile(r"(?:\b[A-Z][\w’'-]*(?:\s+(?:of|the|and|for|de|von)?\s*[A-Z][\w’'-]*)*)")


def _names(text: str, skip_first: bool = True) -> list[str]:
    out = []
    for m in _NAME.finditer(text):
        name = m.group().strip()
        words = name.split()
        if skip_first and m.start() == len(text) - len(text.lstrip()) and len(words) == 1:
            continue
        if words and words[0].lower() in STOPWORDS:
            words = words[1:]
        if words:
            out.append(" ".join(words))
    return out


_AUX_DO = re.compile(r"\b(?:do|does|did)\b", re.I)
_PHRASE = re.compile(r"\b(?:the|a|an)\s+[\w’'-]+(?:\s+(?:of\s+(?:the\s+)?)?[\w’'-]+)*", re.I)


_WH_PHRASE = re.compile(
    r"^(?:what|which)\s+((?:[\w’'-]+\s+){0,3}?[\w’'-]+)\s+(?:does|did|do|is|are|was|were|will|would|can|could|has|"
    r"have|had|should|must|may)\b", re.I)


def _topic(question: str) -> str:
    """The key noun phrase of a question: the thing a "What/Which <noun> does ..." question asks for, else
    its first "the ..." phrase, else its longest name, else content words."""
    body = question.strip().rstrip("?.!")
    wh = _WH_PHRASE.match(body)
    if wh and all(w.lower() not in STOPWORDS for w in wh.group(1).split()):
        return f"the {wh.group(1)}"
    for match in _PHRASE.finditer(body):
        words = []
        for w in match.group().split():
            if words and w.lower() in STOPWORDS and w.lower() not in ("of", "the"):
                break
            words.append(w)
        while words and words[-1].lower() in ("of", "the"):
            words.pop()
        if _AUX_DO.search(body) and len(words) > 2 and words[-1][:1].islower() and match.end() == len(body):
            words.pop()
        if len(words) >= 2:
            return " ".join(words)
    names = sorted(_names(body), key=len, reverse=True)
    if names:
        return names[0]
    words = [w for w in re.findall(r"[\w’'-]+", body) if w.lower() not in STOPWORDS]
    return " ".join(words[-4:])


def standalone_question(history: Sequence[Message], question: str, rewritten: str = "") -> str:
    """A follow-up as a standalone question: the model's `rewritten` text when it looks right, else a
    deterministic rewrite.

    The model's rewrite is accepted when its first line has 3-40 words, is not a repetition loop,
    keeps at least half the follow-up's content words (any of the fallback's when it has none),
    does not leave a pronoun the fallback resolved and names what the fallback resolved it to. The deterministic rewrite: he/she/his/her
    take the first name in the last assistant reply that the previous question did not already
    hold (else the previous question's topic); it/they/this take the previous question's topic
    (both kinds are replaced when both occur). A follow-up without pronouns gets, in brackets,
    the previous topic's names it lacks, else the previous question's content words it lacks.
    """
    question = question.strip()
    fallback = _substitute_referents(history, question)
    if rewritten.strip():
        line = next((ln.strip() for ln in rewritten.strip().splitlines() if ln.strip()), "")
        line = re.sub(r"^(?:standalone|rewritten)?\s*(?:question|follow-up)?\s*:\s*", "", line, flags=re.I)
        line = line.strip(" \"'")
        words = line.split()
        if 3 <= len(words) <= 40 and len(set(words)) >= len(words) * 0.6:
            own, got = content_terms(question), content_terms(line)
            unresolved = fallback != question and bool(_PERSON_PRONOUN.search(line) or _THING_PRONOUN.search(line))
            referents = content_terms(fallback) - own
            misread = bool(referents) and not referents <= got
            if not unresolved and not misread and (overlap(own, got) >= 0.5 or (not own and got & content_terms(fallback))):
                return line
    return fallback


_TEMPORAL = re.compile(
    r"\s*,?\s*\b(?:(?:after|before|since|following|until)\s+(?:that|this|then|it)|(?:at|by|from)\s+(?:that|this)\s+"
    r"(?:time|point|date|stage)|afterwards|after\s+(?:that|which)|by\s+then|then)\b", re.I)
"""Time anaphora ("after that", "at that time", "then"): they point at the previous answer's event, which
the search cannot see; dropped from the standalone question (the question itself is answered as asked)."""
_ASKED_SUBJECT = re.compile(
    r"\b(?:did|does|do|was|is|were|are|has|have|had|will|would|can|could|should)\s+"
    r"((?:[A-Z][\w’'-]*)(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][\w’'-]*)*)")
_LEAD_IN = re.compile(r'According to [^"]*?:\s*(?=")')
"""The system's 'According to <title> (<date>): "<quote>"' lead-in: a title names no person."""
_NOT_PERSON = frozenset(
    """according ministry company institute office agency authority council committee government department
    union party bank board court university commission report statement briefing summary paper plan act
    january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday""".split())


def _drop_temporal(question: str) -> str:
    out = _TEMPORAL.sub("", question)
    out = re.sub(r"^((?:and|but|so)\b),\s*", r"\1 ", out.strip(), flags=re.I)
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", out)).strip()


def _subject(prev_q: str) -> str:
    """The name the previous question asked about as its subject ("did Tesla work ..." -> "Tesla")."""
    m = _ASKED_SUBJECT.search(prev_q)
    return m.group(1) if m and _could_be_person(m.group(1)) else ""


def _could_be_person(name: str) -> bool:
    return not any(w.lower().strip("’'") in _NOT_PERSON for w in name.split())


def _substitute_referents(history: Sequence[Message], question: str) -> str:
    prev_q = next((m["content"] for m in reversed(history) if m.get("role") == "user" and m.get("content")), "")
    prev_a = next((m["content"] for m in reversed(history) if m.get("role") == "assistant" and m.get("content")), "")
    if not prev_q:
        return question
    topic = _topic(prev_q)
    prev_a = _LEAD_IN.sub("", prev_a)
    person = _subject(prev_q) or next((n for n in _names(prev_a, skip_first=False)
                                       if n not in prev_q and _could_be_person(n)), "") or topic
    if not topic:
        return question
    question = _drop_temporal(question)

    def substitute(pattern: re.Pattern[str], referent: str, text: str) -> tuple[str, bool]:
        match = pattern.search(text)
        if not match or not referent:
            return text, False
        word = match.group(1).lower()
        after = text[match.end() :].split()
        nxt = after[0].strip("?.,!;:").lower() if after else ""
        her_noun = word == "her" and nxt.isalpha() and nxt not in STOPWORDS
        possessive = word in ("his", "its", "their", "hers") or her_noun
        return text[: match.start()] + referent + ("'s" if possessive else "") + text[match.end() :], True

    out, done = substitute(_PERSON_PRONOUN, person, question)
    out, done_thing = substitute(_THING_PRONOUN, topic, out)
    done = done or done_thing
    if not done:
        missing = [n for n in _names(topic, skip_first=False) if not content_terms(n) <= content_terms(question)]
        if missing:
            extra = ", ".join(missing)
        else:  # carry the previous question's content words the follow-up lacks
            own = content_terms(question)
            carried = [w for w in re.findall(r"[\w’'-]+", prev_q.rstrip("?.!"))
                       if content_terms(w) and not content_terms(w) <= own]
            extra = " ".join(dict.fromkeys(carried))
        if extra:
            out = f"{question.rstrip('?').rstrip()} ({extra})" + ("?" if question.endswith("?") else "")
    return out
