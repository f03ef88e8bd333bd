"""PDF reader: text per page via pypdf, with each page's span in the document text."""

from __future__ import annotations

import io
import logging
import re
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rag.ingest.readers.common import (
    BLOCK_SEP,
    Extracted,
    clean_title,
    fail,
    looks_garbled,
    parse_date,
    title_from_lines,
)
from rag.types import Page

log = logging.getLogger(__name__)

_LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
     "\ufb05": "st", "\ufb06": "st", "\u00ad": None}
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
_JUNK_TITLE = re.compile(r"^(untitled|document\d*|microsoft word - .*|.*\.(docx?|pdf|rtf|odt))$", re.I)


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs recoverable oddities as warnings; the reader reports real failures itself."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def clean_page(raw: str) -> str:
    """Remove extraction artefacts: ligatures, soft hyphens, control chars, stray blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").translate(_LIGATURES)
    text = _CONTROLS.sub("", text)
    text = _TRAILING.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


def _pdf_date(value: object) -> str | None:
    match = _PDF_DATE.match(str(value).strip()) if value else None
    if not match:
        return None
    return parse_date(f"{match[1]}-{match[2] or '01'}-{match[3] or '01'}")


def _metadata(reader: Any) -> tuple[str | None, str | None]:
    info = reader.metadata
    if not info:
        return None, None
    title = clean_title(info.get("/Title"))
    if title and _JUNK_TITLE.match(title):
        title = None
    date = _pdf_date(info.get("/CreationDate")) or _pdf_date(info.get("/ModDate"))
    return title, date


def _open(path: Path, data: bytes) -> tuple[Any, int]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    if b"%PDF-" not in data[:1024]:
        raise fail(path, "is not a PDF (no %PDF- header)")
    if data.rfind(b"%%EOF") == -1:
        raise fail(path, "is truncated or damaged (no %%EOF marker)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as exc:
                raise fail(path, f"is encrypted and cannot be opened here ({exc})") from exc
            if not opened:
                raise fail(path, "is encrypted (a password is needed to open it)")
        count = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            RecursionError, OSError, zlib.error) as exc:
        raise fail(path, f"is damaged or not a readable PDF ({type(exc).__name__}: {exc})") from exc
    return reader, count


def read_pdf(path: Path, data: bytes) -> Extracted:
    """PDF: page texts joined by blank lines; Document.pages maps each page to its span.

    Title and date come from the /Title and /CreationDate metadata, else the first line.
    Raises DocumentError for fake, truncated or encrypted PDFs and for PDFs without text.
    """
    from pypdf.errors import PyPdfError

    with _quiet_pypdf():
        reader, count = _open(path, data)
        if count == 0:
            raise fail(path, "has no pages")
        texts: list[str] = []
        garbled = 0
        for number in range(count):
            try:
                raw = reader.pages[number].extract_text() or ""
            except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                    RecursionError, zlib.error) as exc:
                log.warning("%s: page %d could not be read (%s); its text is skipped",
                            path, number + 1, exc)
                raw = ""
            page_text = clean_page(raw)
            if page_text and looks_garbled(page_text):
                log.warning("%s: page %d has a garbled text layer (broken font encoding?); its text is skipped",
                            path, number + 1)
                garbled += 1
                page_text = ""
            texts.append(page_text)
        try:
            title, date = _metadata(reader)
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: unreadable metadata (%s)", path, exc)
            title, date = None, None
    if not any(texts) and garbled:
        raise fail(path, f"has a garbled text layer on {'its page' if count == 1 else f'{garbled} of {count} pages'} "
                         "and no readable text (broken font encoding, or binary noise)")
    if not any(texts):
        raise fail(path, "has no extractable text (scanned?)")
    parts: list[str] = []
    pages: list[Page] = []
    offset = 0
    for number, page_text in enumerate(texts, start=1):
        if page_text and parts:
            parts.append(BLOCK_SEP)
            offset += len(BLOCK_SEP)
        pages.append(Page(number=number, start=offset, end=offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    return Extracted(text=text, title=title or title_from_lines(text), date=date, pages=tuple(pages))
