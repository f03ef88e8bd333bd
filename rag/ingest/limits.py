"""How much one input file may cost: the caps every reader keeps before it parses anything.

A file past a cap is refused with a DocumentError naming the file, the cap and what to do, so an
ingest of a folder goes on with the other files and nothing already indexed is touched. The
figures come from `bench/bench_hostile.py` (peak RSS and seconds of `rag ingest` on zip bombs,
GB-long text nodes, a 10 MB line and 50 MB of words; the table is in the README).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Caps on one input file; `bench/bench_hostile.py` measures what each keeps out."""

    max_file_bytes: int = 256 * MIB
    """A file on disk larger than this is not read at all (PDF reports with images stay well below)."""
    max_text_chars: int = 16_000_000
    """Extracted text of one document (about 6,000 pages); past it peak RSS passes ~2 GB while
    chunking and embedding, so the file is refused: split it."""
    max_docx_part_bytes: int = 64 * MIB
    """Inflated size of one XML part of a DOCX (document.xml of a 1,000-page report is ~20 MB)."""
    max_docx_xml_bytes: int = 128 * MIB
    """Inflated size of all XML parts of a DOCX together; media, fonts and embedded objects are
    never inflated (the reader needs only text), so they count for nothing."""


LIMITS = ReadLimits()
"""The caps the ingest uses."""
