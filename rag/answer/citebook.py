"""Citation numbering shared by answers, summaries and briefs: 1..m in order of first use, one
number per distinct quoted span (document, start, end)."""

from __future__ import annotations

from rag.types import AnswerSentence, Citation


class CitationBook:
    """Numbers quoted spans in order of first use; `citations` holds them, numbered 1..m."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def number(self, doc_id: str, chunk_id: str, path: str, title: str, page: int | None, start: int, end: int,
               quote: str) -> int:
        """The number of the span `Document.text[start:end] == quote`, assigning the next one on first use."""
        key = (doc_id, start, end)
        if key not in self._numbers:
            n = len(self.citations) + 1
            self._numbers[key] = n
            self.citations.append(Citation(n, doc_id, chunk_id, path, title, page, start, end, quote))
        return self._numbers[key]


def with_markers(sentence: AnswerSentence) -> str:
    """The sentence with its citation markers before its final stop ("... 2027 [1]."), or after it when
    it ends in a quote."""
    if not sentence.citations:
        return sentence.text
    marks = "".join(f"[{n}]" for n in sentence.citations)
    text = sentence.text
    if text.endswith((".", "!", "?")) and not text.endswith('"'):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"
