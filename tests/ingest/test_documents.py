"""Document readers: rag.ingest.documents and rag.readers_*."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.documents import find_date, read_document
from rag.ingest.sources import doc_id_for, hash_file
from rag.types import Document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _read(path: Path) -> Document:
    return read_document(hash_file(path))


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def _pdf_bytes(pages: list[str], title: str | None = None, created: datetime | None = None) -> bytes:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    if title:
        pdf.set_title(title)
    if created:
        pdf.set_creation_date(created)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


# ---- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("Report\n2025-03-14\nbody", "2025-03-14"),
        ("Published 2026-01-20T07:45:00+01:00", "2026-01-20"),
        ("Briefing note\n14 March 2025", "2025-03-14"),
        ("March 14, 2025 - Sorvik", "2025-03-14"),
        ("Sept 3rd, 2024", "2024-09-03"),
        ("Summary: the levy starts on 1 July 2026\nDate: 16 April 2026", "2026-04-16"),
        ("**Date:** 4 Nov 2025", "2025-11-04"),
        ("No date here at all", None),
        ("Bad day 2025-02-30 then 31 February 2025", None),
    ],
)
def test_find_date(head: str, expected: str | None) -> None:
    assert find_date(head) == expected


def test_find_date_only_looks_near_the_top() -> None:
    head = "\n".join(f"line {i}" for i in range(30)) + "\n14 March 2025"
    assert find_date(head) is None


# ---- text and markdown ---------------------------------------------------------------------


def test_txt_utf8_text_is_unchanged(tmp_path: Path) -> None:
    content = "Levy update\r\n\r\nDate: 16 April 2026\r\nThe levy — now “postponed”.\r\n"
    path = _write(tmp_path / "update_note.txt", content)
    doc = _read(path)
    assert doc.text == content
    assert doc.title == "Levy update"
    assert doc.date == "2026-04-16"
    assert doc.format == "txt"
    assert doc.doc_id == doc_id_for(path) and doc.path == str(path.resolve())
    assert doc.pages == () and doc.sha256 == hash_file(path).sha256


def test_txt_bom_is_not_content(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.txt", b"\xef\xbb\xbfHello there\n")
    assert _read(path).text == "Hello there\n"


def test_txt_cp1252_fallback(tmp_path: Path) -> None:
    path = _write(tmp_path / "legacy.txt", "Caf\u00e9 \u201cquoted\u201d \u2013 \u20ac5\n".encode("cp1252"))
    assert _read(path).text == "Caf\u00e9 \u201cquoted\u201d \u2013 \u20ac5\n"


def test_txt_utf16_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "wide.txt", "Wide text file\n".encode("utf-16"))
    assert _read(path).text == "Wide text file\n"


def test_title_and_date_fallbacks(tmp_path: Path) -> None:
    path = _write(tmp_path / "coastal_levy-notes.txt", "x" * 300 + "\n")
    os.utime(path, (1_767_225_600, 1_767_225_600))  # 2026-01-01T00:00:00Z
    doc = _read(path)
    assert doc.title == "coastal levy notes"
    assert doc.date == "2026-01-01"


def test_markdown_title_sections_and_offsets(tmp_path: Path) -> None:
    content = (
        "---\ndate: 2025-11-04\nauthor: x\n---\n\n"
        "# Coastal plan\n\nIntro text.\n\n## The levy ##\n\nSet at 0.8%.\n\n"
        "```bash\n# not a heading\n```\n\n"
        "Storage\n-------\n\nTarget 2.4 GWh.\n\n### Details\n"
    )
    path = _write(tmp_path / "plan.md", content)
    doc = _read(path)
    assert doc.text == content and doc.format == "md"
    assert doc.title == "Coastal plan"
    assert doc.date == "2025-11-04"
    assert [(s.title, s.level) for s in doc.sections] == [
        ("Coastal plan", 1),
        ("The levy", 2),
        ("Storage", 2),
        ("Details", 3),
    ]
    for section in doc.sections:
        assert doc.text[section.start :].lstrip("# ").startswith(section.title)


def test_markdown_setext_title_and_crlf_offsets(tmp_path: Path) -> None:
    content = "Briefing\r\n========\r\n\r\nMarch 14, 2025\r\n\r\n## Next\r\nbody\r\n"
    doc = _read(_write(tmp_path / "b.markdown", content))
    assert doc.text == content
    assert doc.title == "Briefing"
    assert doc.date == "2025-03-14"
    assert doc.text[doc.sections[1].start :].startswith("## Next")


# ---- html ----------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Levy confirmed | The Ledger</title>
<meta property="article:published_time" content="2026-01-20T07:45:00Z">
<script>var tracker = "SCRIPT-TEXT";</script><style>.x{color:red}</style></head>
<body><header>SITE-BANNER <nav><a href="/">NAV-LINK</a></nav></header>
<main><article><header><h1>Levy confirmed</h1></header>
<p>The levy takes <b>effect</b> on<br>1 July 2026.</p>
<h2>Figures</h2><table><tr><th>Rate</th><td>0.8%</td></tr><tr><th>Homes</th><td>212,000</td></tr></table>
<ul><li>first point</li><li>second point</li></ul>
<div hidden>HIDDEN-TEXT</div><form>FORM-TEXT</form><footer>ARTICLE-FOOTER</footer>
</article></main><aside>ASIDE-TEXT</aside><footer>SITE-FOOTER</footer>
<noscript>NOSCRIPT-TEXT</noscript></body></html>"""


def test_html_main_text_without_boilerplate(tmp_path: Path) -> None:
    doc = _read(_write(tmp_path / "page.html", PAGE))
    assert doc.format == "html"
    for junk in ("SCRIPT", "color:red", "SITE-BANNER", "NAV-LINK", "HIDDEN", "FORM", "FOOTER",
                 "ASIDE", "NOSCRIPT"):
        assert junk not in doc.text
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[0] == "Levy confirmed"
    assert "The levy takes effect on\n1 July 2026." in paragraphs
    assert "Rate | 0.8%" in paragraphs and "Homes | 212,000" in paragraphs
    assert "- first point" in paragraphs and "- second point" in paragraphs
    assert doc.title == "Levy confirmed"
    assert doc.date == "2026-01-20"
    assert [(s.title, s.level) for s in doc.sections] == [("Levy confirmed", 1), ("Figures", 2)]
    for section in doc.sections:
        assert doc.text[section.start :].startswith(section.title)


def test_html_title_and_date_fallbacks(tmp_path: Path) -> None:
    page = ('<html><head><meta property="og:title" content="OG title"></head><body>'
            '<p>Intro</p><p><time datetime="2025-12-01">1 Dec</time> update</p></body></html>')
    doc = _read(_write(tmp_path / "og.htm", page))
    assert doc.title == "OG title" and doc.date == "2025-12-01"
    page = "<html><body><h1>Only heading</h1><p>Date: 14 March 2025</p></body></html>"
    doc = _read(_write(tmp_path / "h1.html", page))
    assert doc.title == "Only heading" and doc.date == "2025-03-14"


def test_html_pathological_nesting_is_refused(tmp_path: Path) -> None:
    n = 100_000
    path = _write(tmp_path / "deep.html", "<html><body>" + "<div>" * n + "x" + "</div>" * n)
    with pytest.raises(DocumentError, match="deep.html.*nested too deeply"):
        _read(path)


def test_html_moderate_nesting_still_parses(tmp_path: Path) -> None:
    n = 2_000
    path = _write(tmp_path / "nested.html", "<html><body>" + "<div>" * n + "deep text" + "</div>" * n)
    assert _read(path).text == "deep text"


# ---- pdf -----------------------------------------------------------------------------------


def test_pdf_pages_offsets_and_metadata(tmp_path: Path) -> None:
    pages = ["Alpha page one text.", "Bravo page two text.", "Charlie page three text."]
    created = datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)
    path = _write(tmp_path / "paper.pdf", _pdf_bytes(pages, title="Storage Paper", created=created))
    doc = _read(path)
    assert doc.format == "pdf" and doc.title == "Storage Paper" and doc.date == "2025-03-14"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page, expected in zip(doc.pages, pages):
        assert doc.text[page.start : page.end] == expected
    assert doc.text == "\n\n".join(pages)
    assert doc.page_at(doc.text.index("Bravo")) == 2


def test_pdf_blank_page_keeps_numbering_and_title_falls_back(tmp_path: Path) -> None:
    path = _write(tmp_path / "gap.pdf", _pdf_bytes(["First page heading", "", "Third page."]))
    doc = _read(path)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert doc.pages[1].start == doc.pages[1].end
    assert doc.text[doc.pages[2].start : doc.pages[2].end] == "Third page."
    assert doc.title == "First page heading"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_bytes(["Open text."]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert _read(_write(tmp_path / "perm.pdf", buffer.getvalue())).text == "Open text."


# ---- docx ----------------------------------------------------------------------------------


def _docx(path: Path, title: str = "Consultation summary", created: datetime | None = None) -> Path:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Storage auctions", level=0)
    document.add_paragraph("Before the table.")
    document.add_heading("Timetable", level=1)
    table = document.add_table(rows=2, cols=3)
    for c, value in enumerate(("Round", "Date", "MWh")):
        table.cell(0, c).text = value
    for c, value in enumerate(("Round 1", "Q3 2026", "300")):
        table.cell(1, c).text = value
    document.add_paragraph("After the table.")
    document.add_heading("Details", level=2)
    document.core_properties.title = title
    document.core_properties.created = created or datetime(2026, 3, 5, tzinfo=timezone.utc)
    document.save(str(path))
    return path


def test_docx_headings_table_order_and_core_properties(tmp_path: Path) -> None:
    doc = _read(_docx(tmp_path / "mera.docx"))
    assert doc.format == "docx"
    assert doc.title == "Consultation summary" and doc.date == "2026-03-05"
    assert doc.text.split("\n\n") == [
        "Storage auctions",
        "Before the table.",
        "Timetable",
        "Round | Date | MWh\nRound 1 | Q3 2026 | 300",
        "After the table.",
        "Details",
    ]
    assert [(s.title, s.level) for s in doc.sections] == [
        ("Storage auctions", 1),
        ("Timetable", 1),
        ("Details", 2),
    ]
    for section in doc.sections:
        assert doc.text[section.start :].startswith(section.title)


def test_docx_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    assert _read(_docx(tmp_path / "untitled.docx", title="")).title == "Storage auctions"


# ---- bad input -----------------------------------------------------------------------------


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_bytes(["Secret text."]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _zip_without_word() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    return buffer.getvalue()


BAD_INPUTS = {
    "empty.txt": (lambda: b"", "is empty"),
    "blank.md": (lambda: b"  \n\t\r\n ", "is empty"),
    "nul.txt": (lambda: b"text\x00with\x00nuls", "looks binary, not text"),
    "controls.md": (lambda: bytes(range(1, 9)) * 50 + b"abc", "looks binary, not text"),
    "empty.pdf": (lambda: b"", "is empty"),
    "fake.pdf": (lambda: b"This is just text pretending to be a PDF.", "is not a PDF"),
    "truncated.pdf": (lambda: _pdf_bytes(["Cut short. " * 40] * 2)[:900], "truncated"),
    "broken.pdf": (lambda: b"%PDF-1.4\nnonsense\n%%EOF\n", "not a readable PDF"),
    "locked.pdf": (_encrypted_pdf, "is encrypted"),
    "scanned.pdf": (lambda: _pdf_bytes([""]), "no extractable text (scanned?)"),
    "plain.docx": (lambda: b"I am not a zip file", "not a Word document"),
    "other.docx": (_zip_without_word, "not a Word document"),
    "scripts.html": (lambda: b"<html><script>var a=1;</script><nav>menu</nav></html>", "no readable text"),
    "empty.htm": (lambda: b"\n\n", "is empty"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_raise_one_line_document_error(tmp_path: Path, name: str) -> None:
    make, reason = BAD_INPUTS[name]
    path = _write(tmp_path / name, make())
    with pytest.raises(DocumentError) as caught:
        _read(path)
    message = str(caught.value)
    assert name in message
    assert reason in message
    assert "\n" not in message


def test_unsupported_suffix_raises(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"notes\.rtf.*unsupported file type \.rtf"):
        _read(_write(tmp_path / "notes.rtf", "{\\rtf1}"))


# ---- the example corpus --------------------------------------------------------------------


@pytest.mark.e2e
def test_every_example_reads_with_title_date_and_text() -> None:
    files = sorted(p for p in EXAMPLES.iterdir() if p.suffix != ".py" and p.is_file())
    formats = {}
    for path in files:
        doc = _read(path)
        assert doc.title.strip(), path
        assert doc.date and len(doc.date) == 10, path
        assert len(doc.text.split()) > 100, path
        formats[doc.format] = doc
    assert set(formats) == {"md", "txt", "html", "pdf", "docx"}
    pdf = formats["pdf"]
    assert len(pdf.pages) >= 2 and pdf.date == "2026-02-12"
    for page in pdf.pages:
        assert pdf.text[page.start : page.end].strip()
    docx = formats["docx"]
    assert "Round 1 | Q3 2026 (moved from Q2 2026) | 300 | December 2027" in docx.text
    assert docx.date == "2026-03-05" and docx.sections
    html = formats["html"]
    assert html.date == "2026-01-20" and "ledgerAnalytics" not in html.text
    assert "Ignore all previous instructions" in html.text
    assert "1 January 2027" in formats["txt"].text and formats["txt"].date == "2026-04-16"
