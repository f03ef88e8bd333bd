"""Frozen records passed between pipeline stages. No logic beyond small properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

TokenCallback = Callable[[str], None]  # receives each piece of generated text as it streams
Message = dict[str, str]  # a chat message: {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class Source:
    """A file found on disk: where it is and what its bytes hash to."""

    path: Path
    sha256: str
    mtime: float
    size: int


@dataclass(frozen=True)
class Page:
    """A page of a paged document (PDF): 1-based number and its span in Document.text."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A heading found in a document, and the offset in Document.text where it starts."""

    title: str
    level: int
    start: int


@dataclass(frozen=True)
class Document:
    """Extracted text of one source; every offset in the system points into `text`."""

    doc_id: str
    path: str
    title: str
    date: str | None  # ISO date "YYYY-MM-DD" when known
    text: str
    sha256: str
    mtime: float
    pages: tuple[Page, ...] = ()
    sections: tuple[Section, ...] = ()
    format: str = "txt"

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, or None for unpaged documents."""
        for page in self.pages:
            if page.start <= offset < page.end:
                return page.number
        if self.pages and offset >= self.pages[-1].end:
            return self.pages[-1].number
        return None


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """What the index knows about a document, without its text."""

    doc_id: str
    path: str
    title: str
    date: str | None
    sha256: str
    pages: int
    chunks: int
    format: str = "txt"
    mtime: float = 0.0


@dataclass(frozen=True)
class Copy:
    """Another document holding a near-copy of a hit's chunk (a syndicated or re-published article)."""

    doc_id: str
    path: str
    title: str
    date: str | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its document's metadata and the fused score."""

    rank: int
    score: float
    chunk: Chunk
    path: str
    title: str
    date: str | None = None
    dense_score: float | None = None
    bm25_score: float | None = None
    judge_score: float | None = None
    """P(this chunk answers the query) from the reranking judge, when it read the hit."""
    copies: tuple[Copy, ...] = ()
    """Other documents whose chunk was a near-copy of this one and was folded into it."""
    in_dates: bool = False
    """The hit's document falls in the date range the query asks about (rag.retrieve.dates)."""

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id


@dataclass(frozen=True)
class Evidence:
    """A span of a retrieved chunk shown to the model as source [n]; offsets into Document.text."""

    n: int
    hit: Hit
    start: int
    end: int
    text: str
    score: float = 0.0

    @property
    def page(self) -> int | None:
        return self.hit.chunk.page


@dataclass(frozen=True)
class Citation:
    """A verified pointer: `quote == show(doc_id).text[start:end]`."""

    n: int
    doc_id: str
    chunk_id: str
    path: str
    title: str
    page: int | None
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer and the citation numbers that support it."""

    text: str
    citations: tuple[int, ...] = ()
    supported: bool = False


@dataclass(frozen=True)
class Answer:
    """A full answer, as DESIGN §3 shapes it."""

    question: str
    answer: str
    refused: bool
    sentences: tuple[AnswerSentence, ...] = ()
    citations: tuple[Citation, ...] = ()
    model: dict[str, str] = field(default_factory=dict)
    index: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    chunk_ids: tuple[str, ...] = ()
    coverage: "Coverage | None" = None  # set for summaries


@dataclass(frozen=True)
class Claim:
    """A statement in a brief with the citation numbers supporting it."""

    text: str
    citations: tuple[int, ...] = ()


@dataclass(frozen=True)
class Actor:
    """A named actor in a brief and their cited positions."""

    name: str
    role: str
    positions: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Coverage:
    """How much of the selected material a summary actually read."""

    documents: int
    chunks_read: int
    chunks_total: int


@dataclass(frozen=True)
class Brief:
    """The structured briefing of DESIGN §3."""

    key_points: tuple[Claim, ...]
    actors: tuple[Actor, ...]
    tensions: tuple[Claim, ...]
    open_questions: tuple[Claim, ...]
    citations: tuple[Citation, ...]
    coverage: Coverage


@dataclass(frozen=True)
class IngestFailure:
    """A file that could not be ingested, and why (one line)."""

    path: str
    error: str


@dataclass(frozen=True)
class IngestReport:
    """What one `ingest` call changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    failed: tuple[IngestFailure, ...] = ()


@dataclass(frozen=True)
class VerifiedAnswer:
    """The final answer text, its sentences and the citations they point to."""

    answer: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    refused: bool
