"""Helpers shared by the document readers: decoding, dates, titles and a text builder."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from rag.errors import DocumentError
from rag.types import Page, Section

BLOCK_SEP = "\n\n"
HEAD_LINES = 15

MONTH_NUMBERS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        "january february march april may june july august september october november december".split(), start=1)
}
"""Full English month names (lower case) -> 1..12: the one list of month names."""
_ABBREVIATIONS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
                  "oct": 10, "nov": 11, "dec": 12}
_MONTHS = {**MONTH_NUMBERS, **_ABBREVIATIONS}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+(\d{4})(?!\d)", re.I)
_MDY = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)", re.I)
_LABEL = re.compile(
    r"^[\W_]*(?:date|dated|published|posted|issued|released|updated|last updated)\b", re.I
)
_TITLE_LABEL = re.compile(r"^(?:title|subject|re)\s*:\s*", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


@dataclass
class Extracted:
    """What a format reader produced; read_document fills in ids and fallbacks."""

    text: str
    title: str | None = None
    date: str | None = None
    pages: tuple[Page, ...] = ()
    sections: tuple[Section, ...] = ()


@dataclass
class TextBuilder:
    """Builds a document text from blocks joined by blank lines, recording heading offsets."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    sections: list[Section] = field(default_factory=list)

    def add(self, block: str, heading: int | None = None) -> int | None:
        """Append a block (ignored when blank); returns its start offset."""
        if not block.strip():
            return None
        if self.parts:
            self.parts.append(BLOCK_SEP)
            self.length += len(BLOCK_SEP)
        start = self.length
        self.parts.append(block)
        self.length += len(block)
        if heading:
            self.sections.append(Section(title=" ".join(block.split()), level=heading, start=start))
        return start

    def text(self) -> str:
        """The text built so far."""
        return "".join(self.parts)


def fail(path: Path, reason: str) -> DocumentError:
    """A DocumentError whose one-line message names the file and the reason."""
    return DocumentError(f"{path} {' '.join(reason.split())}")


def _valid(year: int, month: int, day: int) -> str | None:
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _date_in(line: str) -> str | None:
    """The first recognisable date in one line, as YYYY-MM-DD."""
    found: list[tuple[int, str]] = []
    for match in _ISO.finditer(line):
        iso = _valid(int(match[1]), int(match[2]), int(match[3]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _DMY.finditer(line):
        iso = _valid(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _MDY.finditer(line):
        iso = _valid(int(match[3]), _MONTHS[match[1].lower()], int(match[2]))
        if iso:
            found.append((match.start(), iso))
            break
    return min(found)[1] if found else None


def find_date(text_head: str) -> str | None:
    """A document date found in the first ~15 non-blank lines, as "YYYY-MM-DD", else None.

    Recognises ISO dates (2025-03-14), "14 March 2025", "March 14, 2025" (full or short
    month names). A line labelled "Date:", "Published", "Updated" ... wins over a date
    mentioned elsewhere; otherwise the first date found is taken.
    """
    lines = [line for line in text_head.splitlines() if line.strip()][:HEAD_LINES]
    for line in lines:
        if _LABEL.match(line):
            found = _date_in(line)
            if found:
                return found
    for line in lines:
        found = _date_in(line)
        if found:
            return found
    return None


def is_dateline(line: str) -> bool:
    """True for a line that only labels a date ("Date: 2025-03-07", "Updated Mon, 3 Mar 2025 10:00 GMT"):
    metadata of the document, not a statement in it."""
    line = line.strip()
    if "\n" in line or not _LABEL.match(line) or _date_in(line) is None:
        return False
    rest = _LABEL.sub("", _MDY.sub(" ", _DMY.sub(" ", _ISO.sub(" ", line))))
    return len(re.findall(r"[A-Za-z]+", rest)) <= 3


def parse_date(value: str) -> str | None:
    """A single date value (meta content, front matter, attribute) as YYYY-MM-DD, else None."""
    return _date_in(value.strip()) if value else None


def iso_day(value: str) -> str | None:
    """`value` when it is a real calendar day written exactly YYYY-MM-DD, else None."""
    try:
        return date.fromisoformat(value).isoformat() if len(value) == 10 else None
    except ValueError:
        return None


def mtime_date(mtime: float) -> str:
    """A file modification time as a UTC calendar date."""
    return datetime.fromtimestamp(mtime, tz=timezone.utc).date().isoformat()


def title_from_stem(path: Path) -> str:
    """The fallback title: the file stem with '_' and '-' turned to spaces."""
    title = " ".join(path.stem.replace("_", " ").replace("-", " ").split())
    return title or path.name


def title_from_lines(text: str) -> str | None:
    """A heading-like first line of a plain text (short, not a date line), else None."""
    for count, raw in enumerate(line for line in text.splitlines() if line.strip()):
        if count >= 5:
            return None
        line = " ".join(raw.split()).strip("#*_= ")
        if not line or not any(ch.isalnum() for ch in line):
            continue
        if _LABEL.match(line) or (len(line) < 40 and _date_in(line)):
            continue
        line = _TITLE_LABEL.sub("", line).strip()
        if len(line) > 150:
            return None
        if len(line) >= 3:
            return line.rstrip(":")
    return None


def clean_title(value: object) -> str | None:
    """A metadata title with whitespace collapsed, or None when blank."""
    if not isinstance(value, str):
        return None
    title = " ".join(value.split())
    return title or None


def decode_text(data: bytes, path: Path) -> str:
    """Decode text bytes: a UTF-16 BOM, else UTF-8 (BOM dropped), else cp1252, else latin-1.

    Raises DocumentError when the bytes look binary (NUL bytes, many control characters).
    """
    text: str | None = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    if text is None:
        if b"\x00" in data:
            raise fail(path, "looks binary, not text")
        for encoding in ("utf-8-sig", "cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    assert text is not None  # latin-1 decodes any bytes
    if looks_binary(text):
        raise fail(path, "looks binary, not text")
    return text


def looks_binary(text: str, sample: int = 65536) -> bool:
    """True when a decoded text holds NULs or more than 5% control characters."""
    head = text[:sample]
    if not head:
        return False
    if "\x00" in head:
        return True
    return len(_CONTROL.findall(head)) > 0.05 * len(head)


_BAD_CATEGORIES = ("Cc", "Co", "Cn", "Cs")  # controls, private use, unassigned, surrogates
GARBLED_READABLE_SHARE = 0.5
"""A text is garbled when under half its non-space characters are readable; a real page, even a
table of figures, scores above 0.8 (tests/ingest/test_documents.py, the garbling table)."""


def _readable_chars(word: str) -> bool:
    return not any(unicodedata.category(ch) in _BAD_CATEGORIES or ch == "\ufffd" for ch in word)


def _readable_word(word: str) -> bool:
    letters = sum(ch.isalnum() for ch in word)
    return len(word) <= 30 and letters >= 0.5 * len(word) and _readable_chars(word)


def readable_share(text: str, sample: int = 20000) -> float:
    """Share of non-space characters in readable words (short, at least half letters or digits, no
    control or private-use characters); ideographic scripts count character by character."""
    head = text[:sample]
    total = readable = 0
    for word in head.split():
        if len(word) <= 3 and not any(ch.isalnum() for ch in word) and _readable_chars(word):
            continue  # a rule, a bullet or a table's "|": neither readable nor noise
        total += len(word)
        if _readable_word(word):
            readable += len(word)
        else:
            readable += sum(unicodedata.category(ch) == "Lo" for ch in word)
    return readable / total if total else 1.0


def looks_garbled(text: str) -> bool:
    """True for a text layer of mojibake or binary noise (see GARBLED_READABLE_SHARE)."""
    return readable_share(text) < GARBLED_READABLE_SHARE
