"""Source -> Document: one reader per format (text and Markdown here, the others in readers_*).

Every reader raises DocumentError with one line naming the file and the reason. Parsers for
HTML, PDF and DOCX are imported lazily, inside their readers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rag.errors import DocumentError
from rag.ingest.limits import LIMITS, MIB, ReadLimits
from rag.ingest.markdown import markdown_sections
from rag.ingest.readers.common import (
    Extracted,
    decode_text,
    fail,
    find_date,
    mtime_date,
    parse_date,
    title_from_lines,
    title_from_stem,
)
from rag.ingest.sources import FORMATS, SUPPORTED_SUFFIXES, doc_id_for
from rag.types import Document, Source

__all__ = ["read_document", "find_date", "FORMATS"]

_TEXT_FORMATS = ("txt", "md")  # formats whose text is at least a quarter of their bytes (UTF-8)


def read_txt(path: Path, data: bytes) -> Extracted:
    """Plain text: the decoded content, unchanged; title from a heading-like first line."""
    text = decode_text(data, path)
    if not text.strip():
        raise fail(path, "is empty")
    return Extracted(text=text, title=title_from_lines(text))


def read_markdown(path: Path, data: bytes) -> Extracted:
    """Markdown: the decoded content, unchanged; title, date and sections from its headings."""
    text = decode_text(data, path)
    if not text.strip():
        raise fail(path, "is empty")
    sections, front = markdown_sections(text)
    title = front.get("title") or next((s.title for s in sections if s.level == 1), None)
    if not title and sections:
        title = sections[0].title
    date = parse_date(front.get("date", "")) or find_date(text[:4000])
    return Extracted(text=text, title=title or None, date=date, sections=sections)


def _reader_for(fmt: str, limits: ReadLimits) -> Callable[[Path, bytes], Extracted]:
    if fmt == "txt":
        return read_txt
    if fmt == "md":
        return read_markdown
    if fmt == "html":
        from rag.ingest.readers.html import read_html

        return read_html
    if fmt == "pdf":
        from rag.ingest.readers.pdf import read_pdf

        return read_pdf
    from rag.ingest.readers.docx import read_docx

    return lambda path, data: read_docx(path, data, limits)


def read_document(source: Source, limits: ReadLimits = LIMITS) -> Document:
    """Read one source file into a Document (text, title, date, pages, sections).

    The reader is chosen by suffix. Title falls back to the file stem; date falls back to
    a date near the top of the text, then to the file's mtime (UTC). Raises DocumentError
    (one line naming the file) for unreadable, empty, binary, damaged or encrypted files, and
    for files past `limits` (checked before parsing where the size is known up front).
    """
    path = Path(source.path).resolve()
    suffix = path.suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        raise fail(path, f"has unsupported file type {suffix or '(none)'}; supported: {supported}")
    try:
        if not path.is_file():
            raise fail(path, "is not a regular file (a FIFO, socket or device?)")
        size = path.stat().st_size
        if fmt in _TEXT_FORMATS and size > 4 * limits.max_text_chars:
            raise fail(path, f"is {size / MIB:,.0f} MiB of text; one document may hold at most "
                             f"{limits.max_text_chars:,} characters: split it")
        if size > limits.max_file_bytes:
            raise fail(path, f"is {size / MIB:,.0f} MiB; the largest file an ingest reads is "
                             f"{limits.max_file_bytes // MIB} MiB: split it")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data.strip():
        raise fail(path, "is empty")
    extracted = _reader_for(fmt, limits)(path, data)
    if not extracted.text.strip():
        raise fail(path, "is empty")
    if len(extracted.text) > limits.max_text_chars:
        raise fail(path, f"holds {len(extracted.text):,} characters of text; one document may hold at most "
                         f"{limits.max_text_chars:,}: split it")
    date = extracted.date or find_date(extracted.text[:4000]) or mtime_date(source.mtime)
    return Document(
        doc_id=doc_id_for(path),
        path=str(path),
        title=extracted.title or title_from_stem(path),
        date=date,
        text=extracted.text,
        sha256=source.sha256,
        mtime=source.mtime,
        pages=extracted.pages,
        sections=extracted.sections,
        format=fmt,
    )
