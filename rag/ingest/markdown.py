"""Markdown structure: front matter and ATX/setext headings with their offsets.

The one Markdown heading parser: the Markdown reader takes a document's title and sections from
it, and the chunker finds headings written in the text of any format with it.
"""

from __future__ import annotations

import re

from rag.ingest.sentences import BULLET
from rag.types import Section

__all__ = ["markdown_sections"]

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")  # the closing #s are cut by _atx_title
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_INLINE_MARKS = re.compile(r"(\*\*|__|`)")
SETEXT_MAX_CHARS = 100
"""Longest line a setext underline turns into a heading (longer ones are paragraphs over a rule)."""


def _front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """YAML-ish front matter (`---` ... `---`) as simple key/values, and the lines it spans."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        return {}, 0
    values: dict[str, str] = {}
    for index, line in enumerate(lines[1:200], start=1):
        stripped = line.rstrip("\r\n")
        if stripped in ("---", "..."):
            return values, index + 1
        match = _FRONT_KEY.match(stripped)
        if match:
            values.setdefault(match[1].lower(), match[2].rstrip().strip("'\""))
    return {}, 0


def front_matter_end(text: str) -> int:
    """Offset just past a Markdown text's front matter (0 when it has none): metadata, not content."""
    lines = text.splitlines(keepends=True)
    _, skip = _front_matter(lines)
    return sum(len(line) for line in lines[:skip])


def _atx_title(raw: str) -> str:
    """The text of an ATX heading without its optional closing sequence (`## Title ##`).

    String methods rather than a lazy regex, so a long line costs linear time.
    """
    text = raw.rstrip(" \t")
    bare = text.rstrip("#")
    return bare.rstrip(" \t") if len(bare) < len(text) and bare[-1:] in (" ", "\t") else text


def _heading_title(raw: str) -> str:
    return " ".join(_INLINE_MARKS.sub("", raw).split()).strip()


def markdown_sections(text: str) -> tuple[tuple[Section, ...], dict[str, str]]:
    """ATX and setext headings of a Markdown text with their offsets, plus front matter.

    Lines inside fenced code are never headings. A setext underline (`===` or `---`) makes a heading
    of the line above only when that line stands alone (after a blank line, a heading or the start),
    is at most SETEXT_MAX_CHARS long and is not a list item: under a longer paragraph it is a rule.
    """
    lines = text.splitlines(keepends=True)
    front, skip = _front_matter(lines)
    sections: list[Section] = []
    offset = sum(len(line) for line in lines[:skip])
    fence: str | None = None
    previous: tuple[int, str] | None = None
    bare = ""
    for line in lines[skip:]:
        bare_before, bare = bare, line.rstrip("\r\n")
        start, offset = offset, offset + len(line)
        fence_match = _FENCE.match(bare)
        if fence is not None:
            if fence_match and fence_match[1][0] == fence[0] and len(fence_match[1]) >= len(fence):
                fence = None
            previous = None
            continue
        if fence_match:
            fence, previous = fence_match[1], None
            continue
        atx = _ATX.match(bare)
        if atx:
            title = _heading_title(_atx_title(atx[2] or ""))
            if title:
                sections.append(Section(title=title, level=len(atx[1]), start=start))
            previous = None
            continue
        setext = _SETEXT.match(bare)
        if setext and previous is not None:
            level = 1 if setext[1][0] == "=" else 2
            sections.append(Section(title=previous[1], level=level, start=previous[0]))
            previous = None
            continue
        stripped = bare.strip()
        alone = not bare_before.strip() or bool(_ATX.match(bare_before))
        is_paragraph = (bool(stripped) and alone and len(stripped) <= SETEXT_MAX_CHARS
                        and not bare.startswith(("    ", "\t", ">", "|")) and not BULLET.match(stripped))
        previous = (start, _heading_title(stripped)) if is_paragraph else None
    return tuple(sections), front
