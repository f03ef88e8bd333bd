"""How the CLI shows results to a person: progress bar, hit lists, answers with footnotes, briefs,
and the chat loop. Presentation only."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from rag import serialize
from rag.api import ChatAPI
from rag.errors import RagError
from rag.types import Answer, Brief, Citation, Claim, DocumentInfo, Hit, IngestReport

WIDTH = 100
PROGRESS_LOG_EVERY_S = 5.0  # an ingest log (stderr not a terminal) gets a progress line this often


@contextmanager
def progress_bar(log_every_s: float = PROGRESS_LOG_EVERY_S) -> Iterator[Any]:
    """The ingest's progress on stderr: a tqdm bar on a terminal; elsewhere (a log, a pipe) one
    line at most every `log_every_s` seconds, so a long ingest shows it is alive."""
    if not sys.stderr.isatty():
        last = [0.0]

        def log_line(done: int, total: int, current: str) -> None:
            now = time.monotonic()
            if now - last[0] >= log_every_s and current:
                last[0] = now
                print(f"ingest: {done}/{total} files; {current}", file=sys.stderr, flush=True)

        yield log_line
        return
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, path: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)
        bar.n = done
        bar.set_postfix_str(path[-60:], refresh=True)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def render_ingest(r: IngestReport) -> None:
    print(f"{r.added} added, {r.updated} updated, {r.unchanged} unchanged, {r.removed} removed; "
          f"index holds {r.documents} documents, {r.chunks} chunks ({r.seconds:.1f} s)")
    for f in r.failed:
        print(f"failed: {f.path}: {f.error}", file=sys.stderr)


def render_docs(docs: Sequence[DocumentInfo]) -> None:
    if not docs:
        print("(no documents)")
    for d in docs:
        pages = f"{d.pages}p " if d.pages else ""
        print(f"{d.doc_id}  {d.date or 'undated':10}  {pages}{d.chunks} chunks  {d.title}\n              {d.path}")


def render_hits(query: str | None, hits: Sequence[Hit]) -> None:
    if query is not None:
        print(f"== {query}")
    if not hits:
        print("(no hits)")
    for h in hits:
        page = f", p. {h.chunk.page}" if h.chunk.page else ""
        print(f"{h.rank}. [{h.score:.3f}] {h.title}{page}  ({h.doc_id} {h.chunk.start}:{h.chunk.end})")
        print(f"   {h.path}")
        snippet = " ".join(h.chunk.text.split())
        print(textwrap.indent(textwrap.fill(snippet[:400] + ("..." if len(snippet) > 400 else ""), WIDTH - 3), "   "))
        if h.copies:
            also = "; ".join(f"{c.title} ({c.path})" for c in h.copies)
            print(textwrap.indent(textwrap.fill(f"also in {len(h.copies)} near-copies: {also}", WIDTH - 3), "   "))


class TokenPrinter:
    """Prints streamed tokens as they come (the model's raw draft)."""

    def __init__(self) -> None:
        self.printed = False

    def __call__(self, piece: str) -> None:
        if not self.printed:
            sys.stdout.write("\033[2m")  # the raw draft is dim; the verified answer follows
        self.printed = True
        sys.stdout.write(piece)
        sys.stdout.flush()


def token_printer() -> TokenPrinter:
    return TokenPrinter()


def footnote(c: Citation) -> str:
    page = f", p. {c.page}" if c.page else ""
    quote = " ".join(c.quote.split())
    return f"[{c.n}] {c.title}{page}: \"{quote}\""


def render_answer(a: Answer, streamed: bool = False) -> None:
    if streamed:
        sys.stdout.write("\033[0m\n\n")
    if a.refused:
        print(a.answer)
        return
    parts = []
    for s in a.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        parts.append(s.text + (marks if s.supported else " [unsupported]"))
    print(textwrap.fill(" ".join(parts) or a.answer, WIDTH))
    if a.citations:
        print()
        for c in a.citations:
            print(textwrap.fill(footnote(c), WIDTH, subsequent_indent="    "))
    if a.coverage is not None:
        cov = a.coverage
        print(f"\n(read {cov.chunks_read} of {cov.chunks_total} chunks in {cov.documents} documents)")


def _claims(title: str, claims: Sequence[Claim]) -> None:
    if not claims:
        return
    print(f"\n{title}")
    for c in claims:
        print(textwrap.fill(c.text + "".join(f"[{n}]" for n in c.citations), WIDTH, initial_indent="- ",
                            subsequent_indent="  "))


def render_brief(b: Brief) -> None:
    print("BRIEF")
    _claims("Key points", b.key_points)
    if b.actors:
        print("\nActors")
        for actor in b.actors:
            print(f"- {actor.name}" + (f" ({actor.role})" if actor.role else ""))
            for c in actor.positions:
                print(textwrap.fill(c.text + "".join(f"[{n}]" for n in c.citations), WIDTH,
                                    initial_indent="    * ", subsequent_indent="      "))
    _claims("Tensions", b.tensions)
    _claims("Open questions", b.open_questions)
    if b.citations:
        print("\nSources")
        for c in b.citations:
            print(textwrap.fill(footnote(c), WIDTH, subsequent_indent="    "))
    cov = b.coverage
    print(f"\n(read {cov.chunks_read} of {cov.chunks_total} chunks in {cov.documents} documents)")


def run_chat(session: ChatAPI, as_json: bool, interactive: bool) -> int:
    """The chat loop: a REPL on a terminal; with piped stdin, one question a line."""
    if interactive:
        print("Ask about your documents. /sources shows the last answer's sources, /reset forgets, /quit leaves.")
    while True:
        if interactive:
            try:
                line = input("> ")
            except EOFError:
                print()
                return 0
        else:
            line = sys.stdin.readline()
            if not line:
                return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/reset":
            session.reset()
            print("(conversation reset)", file=sys.stderr if as_json else sys.stdout)
            continue
        if line == "/sources":
            cites = session.last.citations if session.last else ()
            if as_json:
                _emit_json({"sources": [serialize.citation_json(c) for c in cites]})
            for c in cites if not as_json else ():
                print(footnote(c))
            if not cites and not as_json:
                print("(no sources yet)")
            continue
        try:
            printer = token_printer() if interactive and not as_json else None
            answer = session.ask(line, on_token=printer)
        except RagError as exc:
            print(f"Error: {' '.join(str(exc).split())}", file=sys.stderr)
            if not interactive:
                return 1
            continue
        if as_json:
            _emit_json(serialize.answer_json(answer))
        else:
            render_answer(answer, streamed=printer is not None and printer.printed)
            print()


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()
