"""HTML reader: the main text of a page (no navigation, scripts or footers), via lexbor."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from rag.ingest.readers.common import (
    Extracted,
    TextBuilder,
    clean_title,
    decode_text,
    fail,
    find_date,
    parse_date,
)

MAX_DEPTH = 5000

_SKIP = frozenset(
    """script style noscript template nav aside form iframe svg math canvas button select
    textarea object embed head title meta link dialog footer""".split()
)
_SKIP_ROLES = frozenset(
    "navigation banner contentinfo complementary search menu menubar dialog alert".split()
)
_BLOCKS = frozenset(
    """address article blockquote body caption center dd details dialog dir div dl dt fieldset
    figcaption figure h1 h2 h3 h4 h5 h6 header hgroup hr li main menu ol p pre section summary
    table tbody tfoot thead tr ul""".split()
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SECTIONING = frozenset({"article", "main", "section"})
# Containers whose deep nesting makes an HTML5 tree builder quadratic; counted by the guard.
_NESTING = frozenset(
    """div section article aside nav header footer main blockquote ul ol dl menu dir center
    fieldset figure figcaption details summary address hgroup search form""".split()
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*?(/?)>")
_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_DATE_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "publish_date",
    "article:modified_time",
    "datemodified",
)


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 when it decodes, else the declared <meta charset>, else cp1252/latin-1."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            declared = _CHARSET.search(data[:4096])
            if declared:
                try:
                    codec = codecs.lookup(declared[1].decode("ascii")).name
                except LookupError:
                    codec = None
                if codec and codec not in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
                    return data.decode(codec, errors="replace")
    return decode_text(data, path)


def check_depth(html: str, path: Path, limit: int = MAX_DEPTH) -> None:
    """Refuse pathologically nested markup before parsing it (the tree builder is quadratic)."""
    if html.count("<") < limit:
        return
    depth = 0
    for match in _TAG.finditer(html):
        tag = match[2].lower()
        if tag not in _NESTING or match[3]:
            continue
        if match[1]:
            depth = max(depth - 1, 0)
            continue
        depth += 1
        if depth > limit:
            raise fail(path, f"is nested too deeply (more than {limit} levels of elements)")


class _Walker:
    """Turns a lexbor subtree into paragraphs and headings, without recursion."""

    def __init__(self, chrome_headers: bool) -> None:
        self.out = TextBuilder()
        self.buffer: list[str] = []
        self.lines: list[str] = []
        self.prefix = ""
        self.heading = 0
        self.rows: list[int] = []
        self.sectioning = 0
        self.pre = 0
        self.chrome_headers = chrome_headers

    def line_break(self) -> None:
        line = " ".join("".join(self.buffer).split())
        self.buffer = []
        if line:
            self.lines.append(line)

    def flush(self) -> None:
        if self.pre:
            raw = "".join(self.buffer)
            lines = [line.rstrip() for line in raw.replace("\r\n", "\n").split("\n")]
            text = "\n".join(lines).strip("\n")
            self.buffer = []
        else:
            self.line_break()
            text = "\n".join(self.lines)
        self.lines = []
        if not text.strip() or text.strip() == "|":
            return
        if self.prefix and not self.heading:
            text = self.prefix + text
        self.prefix = ""
        self.out.add(text, heading=self.heading or None)

    def skip(self, node: Any, tag: str) -> bool:
        if tag in _SKIP:
            return True
        if tag == "header" and self.chrome_headers and not self.sectioning:
            return True
        attrs = node.attributes
        if not attrs:
            return False
        if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
            return True
        return (attrs.get("role") or "").lower() in _SKIP_ROLES

    def enter(self, node: Any) -> bool:
        """Handle an opening node; False means: do not descend and do not call exit."""
        tag = node.tag
        if tag == "-text":
            self.buffer.append(node.text_content or "")
            return False
        if tag.startswith("-") or self.skip(node, tag):
            return False
        if tag in _BLOCKS:
            self.flush()
        if tag == "br":
            if self.pre:
                self.buffer.append("\n")
            else:
                self.line_break()
            return False
        if tag in _HEADINGS:
            self.heading = _HEADINGS[tag]
        elif tag == "li":
            self.prefix = "- "
        elif tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th") and self.rows:
            if self.rows[-1]:
                self.buffer.append(" | ")
            self.rows[-1] += 1
        if tag in _SECTIONING:
            self.sectioning += 1
        if tag == "pre":
            self.pre += 1
        return True

    def exit(self, node: Any) -> None:
        tag = node.tag
        if tag in _BLOCKS:
            self.flush()
        if tag == "li":
            self.prefix = ""
        if tag in _HEADINGS:
            self.heading = 0
        elif tag == "tr" and self.rows:
            self.rows.pop()
        if tag in _SECTIONING:
            self.sectioning -= 1
        if tag == "pre":
            self.pre -= 1

    def walk(self, root: Any) -> TextBuilder:
        node = root.child
        stop = root.mem_id
        while node is not None:
            if self.enter(node):
                if node.child is not None:
                    node = node.child
                    continue
                self.exit(node)
            while node.next is None:
                node = node.parent
                if node is None or node.mem_id == stop:
                    self.flush()
                    return self.out
                self.exit(node)
            node = node.next
        self.flush()
        return self.out


def _meta(tree: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for meta in tree.css("meta"):
        attrs = meta.attributes
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        content = attrs.get("content")
        if key and content and key not in values:
            values[key] = content
    return values


def _main_roots(tree: Any) -> list[Any]:
    roots = []
    main = tree.css_first("main") or tree.css_first('[role="main"]')
    if main is not None:
        roots.append(main)
    articles = tree.css("article")
    if len(articles) == 1:
        roots.append(articles[0])
    if tree.body is not None:
        roots.append(tree.body)
    return roots


def read_html(path: Path, data: bytes) -> Extracted:
    """HTML: main text as blank-line separated paragraphs; headings as sections.

    Boilerplate (script, style, nav, header, footer, aside, form, noscript) is dropped and
    <main> or a single <article> is preferred. Title: <title>, og:title, first <h1>. Date:
    publication meta tags, <time datetime>, a date line near the top of the text.
    """
    from selectolax.lexbor import LexborHTMLParser

    html = _decode(data, path)
    if not html.strip():
        raise fail(path, "is empty")
    check_depth(html, path)
    tree = LexborHTMLParser(html)
    built = TextBuilder()
    for root in _main_roots(tree):
        built = _Walker(chrome_headers=root.tag == "body").walk(root)
        if built.length:
            break
    if not built.length:
        raise fail(path, "has no readable text")
    text = built.text()
    meta = _meta(tree)
    title_node = tree.css_first("title")
    heading = next((s.title for s in built.sections if s.level == 1), None)
    title = (
        clean_title(title_node.text() if title_node is not None else None)
        or clean_title(meta.get("og:title"))
        or heading
    )
    if title and heading and len(title) > len(heading) and title.startswith(heading):
        title = heading  # "<h1> | Site name" -> "<h1>"
    date = None
    for key in _DATE_KEYS:
        date = parse_date(meta.get(key, ""))
        if date:
            break
    if date is None:
        for node in tree.css("time[datetime]"):
            date = parse_date(node.attributes.get("datetime") or "")
            if date:
                break
    return Extracted(
        text=text,
        title=title,
        date=date or find_date(text[:4000]),
        sections=tuple(built.sections),
    )
