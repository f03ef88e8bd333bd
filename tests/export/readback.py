"""Reading an exported file back, the way a checker would: each source's doc id, offsets and quote
from the Markdown footnotes or the Word "Sources" section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_FOOTNOTE = re.compile(r"\[\^(?P<n>\d+)\]: (?P<where>.*?) \((?P<file>[^\n]*?), doc (?P<doc>\w+), characters "
                       r"(?P<start>\d+)\u2013(?P<end>\d+)\): \u201c(?P<quote>.*)\u201d", re.DOTALL)
_ENTRY = re.compile(r"\[(?P<n>\d+)\] (?P<where>.*) \((?P<file>.*?), doc (?P<doc>\w+), characters "
                    r"(?P<start>\d+)\u2013(?P<end>\d+)\)")


def unescape(text: str) -> str:
    """CommonMark backslash escapes read back (a backslash before ASCII punctuation is the character)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def md_sources(text: str) -> list[dict[str, Any]]:
    """The footnote definitions of an exported Markdown file, in order."""
    blocks = [b for b in re.split(r"\n\n(?=\[\^\d+\]: )", text) if re.match(r"\[\^\d+\]: ", b)]
    found = []
    for block in blocks:
        m = _FOOTNOTE.fullmatch(block.rstrip("\n"))
        assert m, f"not a source footnote: {block!r}"
        found.append({"n": int(m["n"]), "doc_id": m["doc"], "start": int(m["start"]), "end": int(m["end"]),
                      "where": unescape(m["where"]), "quote": unescape(m["quote"].replace("\n    ", "\n"))})
    return found


def md_references(text: str) -> list[int]:
    """The footnote numbers referenced in the body, in order."""
    body = re.split(r"\n\n(?=\[\^\d+\]: )", text)[0]
    return [int(n) for n in re.findall(r"\[\^(\d+)\](?!:)", body)]


def docx_paragraphs(path: Path) -> list[Any]:
    import docx

    return list(docx.Document(str(path)).paragraphs)


def docx_sources(path: Path) -> list[dict[str, Any]]:
    """The entries of an exported Word file's "Sources" section: each entry line, then its quote."""
    paragraphs = docx_paragraphs(path)
    heads = [i for i, p in enumerate(paragraphs) if p.style.name.startswith("Heading") and p.text == "Sources"]
    if not heads:
        return []
    rest = paragraphs[heads[0] + 1:]
    found = []
    for entry, quote in zip(rest[::2], rest[1::2]):
        m = _ENTRY.fullmatch(entry.text)
        assert m and quote.style.name == "Quote", (entry.text, quote.style.name)
        found.append({"n": int(m["n"]), "doc_id": m["doc"], "start": int(m["start"]), "end": int(m["end"]),
                      "where": m["where"], "quote": quote.text})
    assert len(rest) == 2 * len(found)
    return found
