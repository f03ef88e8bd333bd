"""When a question is about: "in March 2025", "in 2024", "this week", "last month", "yesterday",
"latest" turned into a date range or a preference for recent documents (pure, table-tested).

Relative expressions are read against `today`: the question's own date when it has one (a dated
news quiz), else the newest document date in the index, else the calendar date. A dated question
that names no date is about the news of the days before it (`asked_on`). Search boosts hits inside
the range rather than filtering them out, so a misread phrase costs rank, never recall.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from rag.ingest.readers.common import MONTH_NUMBERS

_MONTH_NAMES = "|".join(MONTH_NUMBERS)
_MONTH_YEAR = re.compile(rf"\b(?:in|during|since|from|of|by)?\s*({_MONTH_NAMES})\s+(\d{{4}})\b", re.I)
_MONTH_ONLY = re.compile(rf"\b(?:in|during|this|last)\s+({_MONTH_NAMES})\b(?!\s+\d)", re.I)
_YEAR = re.compile(r"\b(?:in|during)\s+((?:19|20)\d\d)\b")
_RELATIVE = re.compile(r"\b(today|yesterday|this week|last week|past week|this month|last month|past month|"
                       r"this year|last year)\b", re.I)
_LATEST = re.compile(r"\b(latest|most recent(?:ly)?|recently|newest|current(?:ly)?|so far this)\b", re.I)


@dataclass(frozen=True)
class DateHint:
    """A date range a question is about (ISO days, inclusive) and/or a wish for the newest documents."""

    since: str | None = None
    until: str | None = None
    latest: bool = False
    boost: float | None = None
    """What a hit inside the range gains; None: THRESHOLDS.date_boost (a date the question names)."""


def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _relative(phrase: str, today: date) -> tuple[date, date]:
    phrase = phrase.lower()
    if phrase == "today":
        return today, today
    if phrase == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if phrase in ("this week", "past week"):
        return today - timedelta(days=7), today
    if phrase == "last week":
        return today - timedelta(days=14), today - timedelta(days=7)
    if phrase in ("this month", "past month"):
        return (today.replace(day=1), today) if phrase == "this month" else (today - timedelta(days=31), today)
    if phrase == "last month":
        first = today.replace(day=1) - timedelta(days=1)
        return _month(first.year, first.month)
    if phrase == "this year":
        return date(today.year, 1, 1), today
    return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)  # last year


def date_hint(question: str, today: date) -> DateHint | None:
    """The dates `question` asks about, relative to `today`; None when it names none."""
    span: tuple[date, date] | None = None
    if m := _MONTH_YEAR.search(question):
        span = _month(int(m[2]), MONTH_NUMBERS[m[1].lower()])
    elif m := _RELATIVE.search(question):
        span = _relative(m[1], today)
    elif m := _MONTH_ONLY.search(question):
        month = MONTH_NUMBERS[m[1].lower()]
        year = today.year if month <= today.month else today.year - 1  # the latest such month
        span = _month(year, month)
    elif m := _YEAR.search(question):
        span = date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)
    latest = bool(_LATEST.search(question))
    if span is None and not latest:
        return None
    return DateHint(span[0].isoformat() if span else None, span[1].isoformat() if span else None, latest)


def asked_on(day: date, days: int, boost: float) -> DateHint:
    """The hint of a question dated `day` that names no date: the `days` days up to it, boosted by
    `boost` (a news question asked on a day is about that week's news more often than not)."""
    return DateHint((day - timedelta(days=days)).isoformat(), day.isoformat(), False, boost)


def in_range(day: str | None, hint: DateHint) -> bool:
    """Whether an ISO date falls inside the hint's range (False when either is missing)."""
    if not day or hint.since is None or hint.until is None:
        return False
    return hint.since <= day[:10] <= hint.until
