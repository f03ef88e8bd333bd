"""Dates a question names, read against the question's own date (pure, table-tested)."""

from __future__ import annotations

from datetime import date

import pytest

from rag.retrieve.dates import DateHint, date_hint, in_range
from rag.retrieve.hybrid import boost_dates

TODAY = date(2025, 3, 12)

CASES = [
    ("What did the ECB decide in March 2025?", DateHint("2025-03-01", "2025-03-31")),
    ("Which bill passed in February 2024?", DateHint("2024-02-01", "2024-02-29")),
    ("What happened in 2023 to the levy?", DateHint("2023-01-01", "2023-12-31")),
    ("Who resigned this week?", DateHint("2025-03-05", "2025-03-12")),
    ("Who resigned last week?", DateHint("2025-02-26", "2025-03-05")),
    ("What did the minister say yesterday?", DateHint("2025-03-11", "2025-03-11")),
    ("What was announced last month?", DateHint("2025-02-01", "2025-02-28")),
    ("What happened in January?", DateHint("2025-01-01", "2025-01-31")),
    ("What happened in December?", DateHint("2024-12-01", "2024-12-31")),  # the latest December
    ("What is the latest on the port strike?", DateHint(None, None, True)),
    ("What did the most recent report find this week?", DateHint("2025-03-05", "2025-03-12", True)),
    ("When does the coastal levy take effect?", None),
    ("May the levy be appealed?", None),  # a modal verb, not a month
    ("How many died in 1348?", None),  # years before 1900 are history, not a range of news
]


@pytest.mark.parametrize("question, expected", CASES, ids=[c[0] for c in CASES])
def test_date_hint(question: str, expected: DateHint | None) -> None:
    assert date_hint(question, TODAY) == expected


def test_in_range_and_boost() -> None:
    hint = DateHint("2025-03-01", "2025-03-31", latest=True)
    assert in_range("2025-03-31", hint) and not in_range("2025-04-01", hint) and not in_range(None, hint)
    boosted = boost_dates({1: 0.5, 2: 0.5, 3: 0.5}, {1: "2025-03-10", 2: "2025-01-02", 3: None}, hint)
    assert boosted[1] > boosted[2] > boosted[3] - 1e-9 and boosted[3] == 0.5
