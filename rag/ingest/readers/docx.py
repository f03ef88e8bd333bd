"""DOCX reader: headings, paragraphs and tables in body order, via python-docx."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from rag.ingest.readers.common import Extracted, TextBuilder, clean_title, fail, title_from_lines

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _check_package(path: Path, data: bytes) -> None:
    """A .docx must be a zip holding word/document.xml."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise fail(path, "is not a Word document (not a zip archive, or a truncated one)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(path, f"is a damaged zip archive ({exc})") from exc
    if "word/document.xml" not in names:
        raise fail(path, "is a zip archive but not a Word document (no word/document.xml)")


def _heading_level(paragraph: Any) -> int | None:
    style = paragraph.style
    if style is None:
        return None
    for name in (style.name or "", style.style_id or ""):
        if name.lower() == "title":
            return 1
        match = _HEADING_STYLE.match(name)
        if match:
            return max(int(match[1]), 1)
    return None


def _is_list(paragraph: Any) -> bool:
    style = paragraph.style
    return style is not None and (style.name or "").lower().startswith("list")


def _blocks(document: Any) -> Iterator[Any]:
    """Paragraphs and tables of the body in document order (content controls unwrapped)."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    stack = [iter(body.iterchildren())]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if child.tag == qn("w:p"):
            yield Paragraph(child, document)
        elif child.tag == qn("w:tbl"):
            yield Table(child, document)
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                stack.append(iter(content.iterchildren()))


def table_text(table: Any) -> str:
    """Rows as lines, cells joined by " | " (merged cells once)."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells).rstrip())
    return "\n".join(lines)


def _core_date(value: object) -> str | None:
    return value.date().isoformat() if isinstance(value, datetime) else None


def read_docx(path: Path, data: bytes) -> Extracted:
    """DOCX: heading styles become sections; tables become " | " rows where they stand.

    Title and date come from the core properties (title, created, modified), else the
    first heading and a date near the top of the text.
    """
    _check_package(path, data)
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    built = TextBuilder()
    try:
        document = docx.Document(io.BytesIO(data))
        for block in _blocks(document):
            if hasattr(block, "rows"):
                built.add(table_text(block))
                continue
            text = block.text.strip()
            level = _heading_level(block)
            if level is None and _is_list(block) and text:
                text = "- " + text
            built.add(text, heading=level)
        core = document.core_properties
        title = clean_title(core.title)
        date = _core_date(core.created) or _core_date(core.modified)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, LxmlError,
            OSError) as exc:
        raise fail(path, f"is not a readable Word document ({type(exc).__name__}: {exc})") from exc
    text = built.text()
    if not text.strip():
        raise fail(path, "has no text")
    first_heading = built.sections[0].title if built.sections else None
    return Extracted(
        text=text,
        title=title or first_heading or title_from_lines(text),
        date=date,
        sections=tuple(built.sections),
    )
