"""An Export as a Word document (.docx, through python-docx, imported lazily).

python-docx has no footnote API, and Word numbers real footnotes by itself, one per reference: a
source cited by three sentences would become three footnotes, numbered unlike the answer. So the
document ends with a numbered "Sources" section instead: each `[n]` in the text is a superscript
link to its entry, which gives the title, page, date and where the quote lies, then the quote in
its own "Quote" paragraph, exactly the document's text (line breaks kept).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from typing import Any

from rag.export.content import Cited, Export, Section, Source
from rag.export.markdown import UNVERIFIED_NOTE

# characters XML 1.0 cannot hold (no .docx can contain them); never found in an extracted quote's text
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def anchor(n: int) -> str:
    """The bookmark name of source `n` (what its `[n]` links to)."""
    return f"source_{n}"  # Word: letters, digits and underscores


def _link(paragraph: Any, text: str, target: str) -> None:
    """A superscript internal hyperlink to bookmark `target`."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    link = OxmlElement("w:hyperlink")
    link.set(qn("w:anchor"), target)
    link.set(qn("w:history"), "1")
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    align = OxmlElement("w:vertAlign")
    align.set(qn("w:val"), "superscript")
    props.append(align)
    run.append(props)
    node = OxmlElement("w:t")
    node.text = text
    run.append(node)
    link.append(run)
    paragraph._p.append(link)


def _bookmark(paragraph: Any, name: str, number: int) -> None:
    """Wrap the paragraph's content in bookmark `name` (so a link can jump to it)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    start, end = OxmlElement("w:bookmarkStart"), OxmlElement("w:bookmarkEnd")
    start.set(qn("w:id"), str(number))
    start.set(qn("w:name"), name)
    end.set(qn("w:id"), str(number))
    paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, start)
    paragraph._p.append(end)


def _cited(paragraph: Any, c: Cited) -> None:
    paragraph.add_run(_xml_safe(c.text))
    for n in c.citations:
        _link(paragraph, f"[{n}]", anchor(n))


def _section(doc: Any, section: Section) -> None:
    if section.heading:
        doc.add_heading(_xml_safe(section.heading), level=2)
    if not section.bullets:
        paragraph = doc.add_paragraph()
        for i, entry in enumerate(e for e in section.entries if e.cited):
            if i:
                paragraph.add_run(" ")
            assert entry.cited is not None
            _cited(paragraph, entry.cited)
        return
    for entry in section.entries:
        if entry.cited is not None:
            _cited(doc.add_paragraph(style="List Bullet"), entry.cited)
        if entry.label:
            doc.add_paragraph(style="List Bullet").add_run(_xml_safe(entry.label)).bold = True
        for child in entry.children:
            _cited(doc.add_paragraph(style="List Bullet 2"), child)


def _source(doc: Any, source: Source) -> None:
    entry = doc.add_paragraph()
    entry.add_run(f"[{source.n}] ").bold = True
    entry.add_run(_xml_safe(source.where))
    entry.add_run(f" ({_xml_safe(source.locator)})").italic = True
    _bookmark(entry, anchor(source.n), source.n)
    entry.paragraph_format.keep_with_next = True
    doc.add_paragraph(_xml_safe(source.quote.replace("\r\n", "\n")), style="Quote")  # one break per line end


def to_docx(export: Export, now: datetime | None = None) -> bytes:
    """The whole export as the bytes of a .docx file."""
    import docx

    doc = docx.Document()
    props = doc.core_properties
    props.title = _xml_safe(export.title)[:255]
    props.subject = f"briefing-rag {export.kind}"
    props.author = props.last_modified_by = "briefing-rag"
    props.created = props.modified = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    doc.add_heading(_xml_safe(export.title), level=1)
    meta, *notes = export.header
    doc.add_paragraph(_xml_safe(meta))
    for note in notes:
        doc.add_paragraph().add_run(_xml_safe(note)).italic = True
    for section in export.sections:
        _section(doc, section)
    if export.unverified:
        doc.add_heading("Not verified", level=2)
        doc.add_paragraph(UNVERIFIED_NOTE)
        for text in export.unverified:
            doc.add_paragraph(_xml_safe(text), style="List Bullet")
    if export.sources:
        doc.add_heading("Sources", level=2)
        for source in export.sources:
            _source(doc, source)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
