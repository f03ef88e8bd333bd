"""DOCX reader: headings, paragraphs and tables in body order, via python-docx."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from rag.ingest.limits import LIMITS, MIB, ReadLimits
from rag.ingest.readers.common import Extracted, TextBuilder, clean_title, fail, title_from_lines

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_XML_PART = (".xml", ".rels")


def text_package(path: Path, data: bytes, limits: ReadLimits = LIMITS) -> bytes:
    """The DOCX rebuilt with only what the reader needs: XML parts inflated within the caps,
    every other part (images, fonts, embedded objects) left empty without being inflated.

    Raises DocumentError when the file is not a Word zip or an XML part passes its cap.
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise fail(path, "is not a Word document (not a zip archive, or a truncated one)")
    out = io.BytesIO()
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as kept:
            infos = archive.infolist()
            if "word/document.xml" not in {info.filename for info in infos}:
                raise fail(path, "is a zip archive but not a Word document (no word/document.xml)")
            for info in infos:
                if info.is_dir():
                    continue
                if not info.filename.lower().endswith(_XML_PART):
                    kept.writestr(info.filename, b"")
                    continue
                total += info.file_size
                if info.file_size > limits.max_docx_part_bytes or total > limits.max_docx_xml_bytes:
                    raise _too_big(path, info.filename, max(info.file_size, total), limits)
                with archive.open(info) as part:
                    body = part.read(limits.max_docx_part_bytes + 1)
                if len(body) > limits.max_docx_part_bytes:
                    raise _too_big(path, info.filename, len(body), limits)
                kept.writestr(info.filename, body)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise fail(path, f"is a damaged zip archive ({type(exc).__name__}: {exc})") from exc
    return out.getvalue()


def _too_big(path: Path, part: str, size: int, limits: ReadLimits) -> Exception:
    return fail(path, f"inflates to {size / MIB:,.0f} MiB of XML ({part}); the caps are "
                      f"{limits.max_docx_part_bytes // MIB} MiB a part and {limits.max_docx_xml_bytes // MIB} MiB "
                      "in all (a zip bomb, or a document to split)")


class _Styles:
    """Heading level and list flag per paragraph style id, each style looked up once."""

    def __init__(self, document: Any) -> None:
        self._document = document
        self._seen: dict[str | None, tuple[int | None, bool]] = {}

    def of(self, paragraph: Any) -> tuple[int | None, bool]:
        style_id = paragraph._p.style
        if style_id not in self._seen:
            self._seen[style_id] = self._describe(paragraph.style)
        return self._seen[style_id]

    @staticmethod
    def _describe(style: Any) -> tuple[int | None, bool]:
        if style is None:
            return None, False
        level = None
        for name in (style.name or "", style.style_id or ""):
            if name.lower() == "title":
                level = 1
                break
            match = _HEADING_STYLE.match(name)
            if match:
                level = max(int(match[1]), 1)
                break
        return level, (style.name or "").lower().startswith("list")


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


def read_docx(path: Path, data: bytes, limits: ReadLimits = LIMITS) -> Extracted:
    """DOCX: heading styles become sections; tables become " | " rows where they stand.

    Title and date come from the core properties (title, created, modified), else the
    first heading and a date near the top of the text. Only the XML parts are inflated, within
    `limits` (see text_package).
    """
    package = text_package(path, data, limits)
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    built = TextBuilder()
    try:
        document = docx.Document(io.BytesIO(package))
        styles = _Styles(document)
        for block in _blocks(document):
            if hasattr(block, "rows"):
                built.add(table_text(block))
                continue
            text = block.text.strip()
            level, is_list = styles.of(block)
            if level is None and is_list and text:
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
