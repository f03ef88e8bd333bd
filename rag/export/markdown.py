"""An Export as Markdown with GitHub-style footnotes: `[^n]` after each cited sentence, and at the
end one `[^n]: Title, p. 3, 2026-02-12 (file, doc id, characters a-b): "quote"` per source.

The numbers are the answer's own (they are assigned in order of first use, so GitHub's display
numbering agrees). Text is escaped so that it renders as written in any CommonMark viewer: the
quote between the typographic quotation marks is, once the backslash escapes are read and the
footnote's four-space continuation indent removed, exactly the document's text.
"""

from __future__ import annotations

import re

from rag.export.content import Cited, Export, Section, Source

UNVERIFIED_NOTE = ("Written by the model, but no passage of the documents supports these sentences; "
                   "they are left out above.")
INDENT = "    "  # a footnote's continuation lines
_INLINE = re.compile(r"[\\`*_\[\]<>|~#]|&(?=#?\w+;)")
_BLOCK_START = re.compile(r"[-+=]|\d{1,9}(?=[.)])")


def escape(text: str) -> str:
    """`text` with what CommonMark/GFM would read as markup backslash-escaped, line by line (so a
    line cannot start a heading, list, quote or rule); renders as `text`."""
    lines = []
    for line in _INLINE.sub(lambda m: "\\" + m.group(0), text).split("\n"):
        body = line.lstrip(" \t")
        lead = line[:len(line) - len(body)]
        if m := _BLOCK_START.match(body):
            body = body[:m.end()] + "\\" + body[m.end():] if m.group(0)[0].isdigit() else "\\" + body
        lines.append(lead + body)
    return "\n".join(lines)


def marks(numbers: tuple[int, ...]) -> str:
    """`[^1][^2]`: footnote references."""
    return "".join(f"[^{n}]" for n in numbers)


def _cited(c: Cited) -> str:
    return escape(c.text) + marks(c.citations)


def _section(section: Section) -> list[str]:
    out = [f"## {escape(section.heading)}", ""] if section.heading else []
    if not section.bullets:
        return out + [" ".join(_cited(e.cited) for e in section.entries if e.cited), ""]
    for entry in section.entries:
        if entry.cited is not None:
            out.append(f"- {_cited(entry.cited)}")
        if entry.label:
            out.append(f"- **{escape(entry.label)}**")
        out.extend(f"    - {_cited(c)}" for c in entry.children)
    return out + [""]


def footnote(source: Source) -> str:
    """The footnote definition of one source; the quote keeps its line breaks, later lines indented."""
    quote = escape(source.quote).replace("\n", "\n" + INDENT)
    return f"[^{source.n}]: {escape(source.where)} ({escape(source.locator)}): \u201c{quote}\u201d"


def to_markdown(export: Export) -> str:
    """The whole export as one Markdown document (UTF-8 text, ending in a newline)."""
    out = [f"# {escape(export.title)}", ""]
    meta, *notes = export.header
    out += [escape(meta), ""] + [line for note in notes for line in (f"_{escape(note)}_", "")]
    for section in export.sections:
        out += _section(section)
    if export.unverified:
        out += ["## Not verified", "", escape(UNVERIFIED_NOTE), ""]
        out += [f"- {escape(text)}" for text in export.unverified] + [""]
    for source in export.sources:
        out += [footnote(source), ""]
    return "\n".join(out).rstrip("\n") + "\n"
