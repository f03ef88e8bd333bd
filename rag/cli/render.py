"""How the CLI shows results to a person: progress bar, hit lists, answers with footnotes, briefs,
and the chat loop. Presentation only."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TextIO

from rag import serialize
from rag.api import ChatAPI
from rag.errors import RagError
from rag.types import Answer, Brief, Citation, Claim, DocumentInfo, Hit, IngestReport

WIDTH = 100
MIN_QUOTE = 40  # characters of a quote a one-line source always keeps
DIM, RESET = "\033[2m", "\033[0m"
DRAFT_LABEL = "draft, not yet checked against the sources: "
VERIFIED_LABEL = "verified (only [n]-marked sentences are supported by their quotes):"
CHAT_COMMANDS = {"/sources": "the last answer's sources", "/reset": "forget the conversation",
                 "/help": "this list", "/quit": "leave (also /exit, Ctrl-D)"}
PROGRESS_LOG_EVERY_S = 5.0  # a log (stderr not a terminal) gets a progress line at most this often


class ProgressDisplay:
    """Shows (done, total, what) progress on stderr: a tqdm bar on a terminal; elsewhere (a log, a
    pipe) one line when a phase starts (the count starts again or the total changes) and at most
    one every `log_every_s` seconds within it. Call `close` to clear the bar; later calls show nothing.

    With `unit` ("files") a line reads `ingest: 3/10 files; WHAT`; without, `what` names the unit:
    `summarize: 128/530 sentences read`."""

    def __init__(self, label: str, unit: str = "", log_every_s: float = PROGRESS_LOG_EVERY_S) -> None:
        self.label, self.unit, self.log_every_s = label, unit, log_every_s
        self.closed = False
        self._bar: Any = None
        self._last = (-1, -1)
        self._logged_at = float("-inf")

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.closed:
            return
        new_phase = total != self._last[1] or done < self._last[0]
        self._last = (done, total)
        if sys.stderr.isatty():
            self._draw(done, total, what, new_phase)
            return
        now = time.monotonic()
        if what and (new_phase or now - self._logged_at >= self.log_every_s):
            self._logged_at = now
            counts = f"{done}/{total} {self.unit}; {what}" if self.unit else f"{done}/{total} {what}"
            print(f"{self.label}: {counts}", file=sys.stderr, flush=True)

    def _draw(self, done: int, total: int, what: str, new_phase: bool) -> None:
        from tqdm import tqdm

        if self._bar is None:
            style: dict[str, Any] = ({"unit": self.unit.removesuffix("s")} if self.unit else
                                     {"bar_format": "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"
                                                    "{postfix} [{elapsed}<{remaining}]"})
            self._bar = tqdm(total=total, desc=self.label, postfix=what[-60:], file=sys.stderr, dynamic_ncols=True,
                             leave=False, **style)
        self._bar.set_postfix_str(what[-60:], refresh=False)
        if new_phase:
            self._bar.reset(total=total)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        """Clear the bar (if one was drawn) and show nothing more."""
        self.closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def progress_bar(label: str = "ingest", unit: str = "files",
                 log_every_s: float = PROGRESS_LOG_EVERY_S) -> Iterator[ProgressDisplay]:
    """A ProgressDisplay for the length of a `with` block, cleared at its end (see ProgressDisplay)."""
    display = ProgressDisplay(label, unit, log_every_s)
    try:
        yield display
    finally:
        display.close()


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
    """Prints streamed tokens as they come (the model's raw draft); `before_first` runs once, just
    before the first token is written (e.g. to clear a progress bar off the terminal)."""

    def __init__(self, before_first: Callable[[], None] | None = None) -> None:
        self.printed = False
        self.before_first = before_first

    def __call__(self, piece: str) -> None:
        if not self.printed:
            if self.before_first is not None:
                self.before_first()
            sys.stdout.write(DIM + DRAFT_LABEL)  # the raw draft is dim and labelled; the verified answer follows
        self.printed = True
        sys.stdout.write(piece)
        sys.stdout.flush()


def token_printer(before_first: Callable[[], None] | None = None) -> TokenPrinter:
    """A TokenPrinter (see there)."""
    return TokenPrinter(before_first)


def footnote(c: Citation, width: int | None = None) -> str:
    """`[n] Title, p. 3: "quote"` on one line (whitespace collapsed); with `width`, the title and
    then the quote are clipped at a word with "..." so the line fits, the quote keeping at least
    MIN_QUOTE characters."""
    page = f", p. {c.page}" if c.page else ""
    title, quote = " ".join(c.title.split()), " ".join(c.quote.split())
    if width is not None:
        frame = len(f"[{c.n}] {page}: \"\"")
        title = clip(title, max(MIN_QUOTE // 2, width - frame - min(len(quote), MIN_QUOTE)))
        quote = clip(quote, max(MIN_QUOTE, width - frame - len(title)))
    return f'[{c.n}] {title}{page}: "{quote}"'


def clip(text: str, width: int) -> str:
    """`text` cut to at most `width` characters at a word boundary, "..." marking the cut."""
    if len(text) <= width:
        return text
    cut = text[:max(1, width - 3)]
    if " " in cut[len(cut) // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "..."


def render_answer(a: Answer, streamed: bool = False) -> None:
    if streamed:
        sys.stdout.write(RESET + "\n\n" + VERIFIED_LABEL + "\n")
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
    """The chat loop: a REPL on a terminal; with piped stdin, one question a line.

    On a terminal, Ctrl-C while an answer is being written cancels that answer and the
    conversation goes on without it; Ctrl-C or Ctrl-D at the prompt leaves. A line that starts
    with a /word is a command (CHAT_COMMANDS); an unknown one is reported, never asked."""
    notes = sys.stderr if as_json else sys.stdout
    if interactive:
        print("Ask about your documents. /sources shows the last answer's sources, /reset forgets, "
              "/help lists the commands, /quit leaves.", file=notes)
    while True:
        line = _read_line(interactive, notes)
        if line is None:
            return 0
        line = line.strip()
        if not line:
            continue
        command = line.split()[0]
        if command in ("/quit", "/exit"):
            return 0
        is_command = _COMMAND.fullmatch(command) is not None
        try:
            if is_command:
                _run_command(session, command, as_json, notes)
            elif (code := _answer_turn(session, line, as_json, interactive)) is not None:
                return code
        except KeyboardInterrupt:
            if not interactive:
                raise
            if not as_json:
                sys.stdout.write(RESET)  # the dim draft of a cancelled answer ends here
            print("\n(cancelled)" if is_command else "\n(answer cancelled)", file=notes)


_COMMAND = re.compile(r"/[A-Za-z][\w-]*")


def _read_line(interactive: bool, notes: TextIO) -> str | None:
    """The next line typed or piped in; None at the end (Ctrl-D, Ctrl-C at the prompt, end of input)."""
    if not interactive:
        return sys.stdin.readline() or None
    try:
        return input("> ")
    except (EOFError, KeyboardInterrupt):
        print(file=notes)
        return None


def _run_command(session: ChatAPI, command: str, as_json: bool, notes: TextIO) -> None:
    if command == "/reset":
        session.reset()
        print("(conversation reset)", file=notes)
    elif command == "/sources":
        cites = session.last.citations if session.last else ()
        if as_json:
            _emit_json({"sources": [serialize.citation_json(c) for c in cites]})
            return
        width = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns) if sys.stdout.isatty() else WIDTH
        for c in cites:
            print(footnote(c, width))
        if not cites:
            print("(no sources yet)")
    elif command == "/help":
        for name, what in CHAT_COMMANDS.items():
            print(f"{name:9} {what}", file=notes)
    else:
        print(f"unknown command {command}; commands: {', '.join(CHAT_COMMANDS)}", file=notes)


def _answer_turn(session: ChatAPI, question: str, as_json: bool, interactive: bool) -> int | None:
    """Ask one question and show the answer; an exit code when the loop must end, else None."""
    printer = token_printer() if interactive and not as_json else None
    try:
        answer = session.ask(question, on_token=printer)
    except RagError as exc:
        if printer is not None and printer.printed:
            print(RESET)
        print(f"Error: {' '.join(str(exc).split())}", file=sys.stderr)
        return None if interactive else 1
    if as_json:
        _emit_json(serialize.answer_json(answer))
    else:
        render_answer(answer, streamed=printer is not None and printer.printed)
        print()
    return None


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()
