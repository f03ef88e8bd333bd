"""What an export holds, independent of its file format: a title, header lines, sections of cited
sentences, the sentences left out as unverified, and the numbered sources with their checked quotes.

Built from an Answer (answers and summaries) or a Brief. Every citation is checked against its
document here, once: its quote must equal `document.text[start:end]`, or the export is refused
(StaleExportError), so the Markdown and Word writers only ever see verified quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Callable, Iterable, Sequence

from rag.errors import ExportError, NotFoundError, StaleExportError
from rag.types import Answer, Brief, Citation, Claim, Coverage, Document

DocumentLookup = Callable[[str], Document]
"""doc_id -> the indexed Document (e.g. `Assistant.document`); raises NotFoundError when absent."""

NOTE = ("Every source note holds a quote that was checked against its document's text when this file was "
        "written; sentences that no passage supports are left out and listed under \u201cNot verified\u201d.")
NOTHING_TO_BRIEF = "The documents gave nothing to brief."


@dataclass(frozen=True)
class Cited:
    """A sentence or claim and the source numbers that support it."""

    text: str
    citations: tuple[int, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One item of a section: a cited sentence, or a label (an actor) with cited sub-items."""

    cited: Cited | None = None
    label: str = ""
    children: tuple[Cited, ...] = ()


@dataclass(frozen=True)
class Section:
    """A part of the body: one paragraph of sentences, or a bulleted list; `heading` may be empty."""

    heading: str
    entries: tuple[Entry, ...]
    bullets: bool = False


@dataclass(frozen=True)
class Source:
    """A numbered source: where the quote is and the quote itself (equal to the document text)."""

    n: int
    title: str
    page: int | None
    date: str | None
    file: str
    doc_id: str
    start: int
    end: int
    quote: str

    @property
    def where(self) -> str:
        """`Title, p. 3, 2026-02-12`: what a reader needs to find the passage."""
        parts = [self.title] + ([f"p. {self.page}"] if self.page else []) + ([self.date] if self.date else [])
        return ", ".join(parts)

    @property
    def locator(self) -> str:
        """`file.pdf, doc 1a2b3c4d5e6f, characters 120-245`: where to check the quote in the index."""
        return f"{self.file}, doc {self.doc_id}, characters {self.start}\u2013{self.end}"


@dataclass(frozen=True)
class Export:
    """A result ready to be written as Markdown or Word."""

    kind: str  # "answer", "summary" or "brief"
    title: str
    header: tuple[str, ...]
    sections: tuple[Section, ...]
    unverified: tuple[str, ...]
    sources: tuple[Source, ...]


def from_answer(answer: Answer, lookup: DocumentLookup, *, title: str | None = None,
                index_version: object = None, now: datetime | None = None) -> Export:
    """An answer or summary (a summary is an Answer with `coverage`) as an Export; its sentences no
    passage supports are left out of the body and listed in `unverified`."""
    kind = "summary" if answer.coverage is not None else "answer"
    if not answer.sentences and not answer.answer.strip():
        raise ExportError(f"nothing to export: the {kind} has no text")
    sources = _sources(answer.citations, lookup)
    if answer.refused or not answer.sentences:
        body = (Entry(Cited(" ".join(answer.answer.split()))),)
        unverified: tuple[str, ...] = ()
    else:
        body = tuple(Entry(Cited(_flat(s.text), s.citations)) for s in answer.sentences if s.supported)
        unverified = tuple(_flat(s.text) for s in answer.sentences if not s.supported)
    _check_numbers((e.cited for e in body if e.cited), sources)
    version = index_version if index_version is not None else answer.index.get("version")
    header = _header(now, version, answer.model.get("llm"), answer.coverage)
    return Export(kind, title or _flat(answer.question) or kind.title(), header,
                  (Section("", body),), unverified, sources)


def from_brief(brief: Brief, lookup: DocumentLookup, *, title: str | None = None,
               index_version: object = None, now: datetime | None = None) -> Export:
    """A brief as an Export: key points, actors with their positions, tensions and open questions,
    each with its citations. Uncited claims are left out and listed in `unverified`, except open
    questions, which need no support to be asked."""
    sources = _sources(brief.citations, lookup)
    unverified: list[str] = []

    def kept(claims: Sequence[Claim]) -> tuple[Cited, ...]:
        unverified.extend(_flat(c.text) for c in claims if not c.citations)
        return tuple(Cited(_flat(c.text), c.citations) for c in claims if c.citations)

    points = tuple(Entry(c) for c in kept(brief.key_points))
    actors = tuple(Entry(label=a.name + (f" ({a.role})" if a.role else ""), children=positions)
                   for a in brief.actors if (positions := kept(a.positions)))
    tensions = tuple(Entry(c) for c in kept(brief.tensions))
    questions = tuple(Entry(Cited(_flat(c.text), c.citations)) for c in brief.open_questions)
    sections = tuple(Section(heading, entries, bullets=True) for heading, entries in (
        ("Key points", points), ("Actors and their positions", actors), ("Tensions", tensions),
        ("Open questions", questions)) if entries)
    if not sections:
        sections = (Section("", (Entry(Cited(NOTHING_TO_BRIEF)),)),)
    cited = [e.cited for s in sections for e in s.entries if e.cited] + \
            [c for s in sections for e in s.entries for c in e.children]
    _check_numbers(cited, sources)
    header = _header(now, index_version, None, brief.coverage)
    return Export("brief", title or "Brief", header, sections, tuple(unverified), sources)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _header(now: datetime | None, version: object, llm: str | None, coverage: Coverage | None) -> tuple[str, ...]:
    when = (now or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    facts = [f"Exported {when}"]
    if version is not None:
        facts.append(f"index version {version}")
    if coverage is not None:
        docs = f"{coverage.documents} document" + ("" if coverage.documents == 1 else "s")
        facts.append(f"{coverage.chunks_read} of {coverage.chunks_total} passages read in {docs}")
    if llm:
        facts.append(f"model {PurePath(llm).name}")
    return (" \u00b7 ".join(facts), NOTE)


def _sources(citations: Iterable[Citation], lookup: DocumentLookup) -> tuple[Source, ...]:
    """Each citation as a Source, its quote checked against the document text at its offsets."""
    docs: dict[str, Document] = {}
    out = []
    for c in sorted(citations, key=lambda c: c.n):
        if c.doc_id not in docs:
            try:
                docs[c.doc_id] = lookup(c.doc_id)
            except NotFoundError as exc:
                raise StaleExportError(f"source [{c.n}] ({c.title or c.path}): document {c.doc_id} is no longer "
                                       "indexed; ask again before exporting") from exc
        doc = docs[c.doc_id]
        if not c.quote or not 0 <= c.start < c.end <= len(doc.text) or doc.text[c.start:c.end] != c.quote:
            raise StaleExportError(f"source [{c.n}] ({c.title or doc.title}): its quote is not the text of "
                                   f"document {c.doc_id} at {c.start}:{c.end} (the document changed since); "
                                   "ask again before exporting")
        out.append(Source(c.n, _flat(c.title or doc.title) or PurePath(doc.path).name, c.page, doc.date,
                          PurePath(doc.path).name, doc.doc_id, c.start, c.end, c.quote))
    numbers = [s.n for s in out]
    if len(set(numbers)) != len(numbers):
        raise ExportError(f"two sources share a number: {sorted(numbers)}")
    return tuple(out)


def _check_numbers(cited: Iterable[Cited], sources: Sequence[Source]) -> None:
    known = {s.n for s in sources}
    for c in cited:
        missing = [n for n in c.citations if n not in known]
        if missing:
            raise ExportError(f"{c.text[:60]!r} cites [{missing[0]}], which is not among the sources")
