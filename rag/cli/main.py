"""`rag`: a thin command-line shell over rag.Assistant. Parses, calls, prints."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Callable, NoReturn, Sequence

from rag import RagError, Settings, __version__
from rag.api import AssistantAPI
from rag.cli.exporting import HELP as EXPORT_HELP

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors read like every other error: one `Error:` line first, then
    the (sub)command's usage, exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"Error: {' '.join(message.split())}\n")
        self.print_usage(sys.stderr)
        sys.exit(EXIT_USAGE)


def _common(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options every command takes. On the top-level parser they default to None; on a
    subcommand they are suppressed when absent, so `rag --index DIR ask ...` and
    `rag ask --index DIR ...` mean the same, as in git- or docker-style CLIs."""
    p = parser or argparse.ArgumentParser(add_help=False)
    default: Any = None if parser is not None else argparse.SUPPRESS
    p.add_argument("--index", metavar="DIR", default=default,
                   help="index directory (default: $RAG_INDEX or ./index)")
    p.add_argument("--embedder", metavar="NAME_OR_PATH", default=default,
                   help="sentence-transformers model ($RAG_EMBEDDER)")
    p.add_argument("--store", metavar="URI", default=default,
                   help="where chunks are searched: local (default), qdrant:PATH or http(s)://host:port ($RAG_STORE)")
    p.add_argument("--json", action="store_true", default=False if parser is not None else argparse.SUPPRESS,
                   help="print one JSON document on stdout")
    return p


def _iso_date(value: str) -> str:
    """An argparse type: a calendar date written YYYY-MM-DD."""
    from rag.ingest.readers.common import iso_day

    day = iso_day(value)
    if day is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD")
    return day


def _ray_address(value: str) -> str:
    """An argparse type: where `rag ingest --ray` sends its work: local, auto, ray://HOST:PORT or HOST:PORT."""
    if value in ("local", "auto") or re.fullmatch(r"(ray://)?[\w.\-]+:\d{1,5}", value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a Ray address (local, auto, ray://HOST:PORT or HOST:PORT); "
                                     "write --ray after the paths to use a local Ray")


def _positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def _llm(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(add_help=False)
    default: Any = None if parser is not None else argparse.SUPPRESS
    p.add_argument("--model", metavar="GGUF_PATH", default=default, help="local GGUF model ($RAG_MODEL)")
    p.add_argument("--llm-url", metavar="URL", default=default,
                   help="OpenAI-compatible server instead of the local model")
    p.add_argument("--llm-model", metavar="NAME", default=default, help="model name on that server")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept import-light so `rag --help` is instant)."""
    parser = _Parser(prog="rag", description="Ask questions of, and summarise, your briefing "
                                     "documents offline, with verified citations.")
    parser.add_argument("--version", action="version", version=f"rag {__version__}")
    _common(parser)
    _llm(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common, llm = _common(), _llm()

    p = sub.add_parser("ingest", parents=[common], help="index files or folders (incremental)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip matching files")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS", type=_ray_address,
                   help="read, chunk and embed on Ray Data workers: a local Ray, or the cluster at ADDRESS")
    sub.add_parser("docs", parents=[common], help="list indexed documents")
    p = sub.add_parser("show", parents=[common], help="show one document's extracted text")
    p.add_argument("doc_id", metavar="DOC_ID")
    p = sub.add_parser("rm", parents=[common], help="remove a document from the index")
    p.add_argument("doc", metavar="DOC_ID_OR_PATH")

    p = sub.add_parser("search", parents=[common], help="hybrid search over the chunks")
    p.add_argument("query", nargs="?", metavar="QUERY")
    p.add_argument("-k", type=_positive, default=None, help=f"number of hits (default {Settings.k})")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--doc", action="append", default=[], metavar="ID", help="only this document (repeatable)")
    p.add_argument("--since", metavar="DATE", type=_iso_date, help="only documents dated on or after YYYY-MM-DD")
    p.add_argument("--until", metavar="DATE", type=_iso_date, help="only documents dated on or before YYYY-MM-DD")
    p.add_argument("--batch", metavar="FILE", help="one query a line ('-' for stdin); JSON Lines with --json")

    p = sub.add_parser("ask", parents=[common, llm], help="answer a question with verified citations")
    p.add_argument("question", nargs="?", metavar="QUESTION")
    p.add_argument("-k", type=_positive, default=None, help=f"passages to retrieve (default {Settings.k})")
    p.add_argument("--doc", action="append", default=[], metavar="ID", help="only this document (repeatable)")
    p.add_argument("--no-stream", action="store_true", help="print the answer once, at the end")
    p.add_argument("--batch", metavar="FILE", help="one question a line ('-' for stdin); JSON Lines with --json")
    p.add_argument("--export", metavar="PATH", help=EXPORT_HELP)

    p = sub.add_parser("summarize", parents=[common, llm], help="summarise documents (all when none given)")
    p.add_argument("doc_ids", nargs="*", metavar="DOC_ID")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--export", metavar="PATH", help=EXPORT_HELP)
    p = sub.add_parser("brief", parents=[common, llm], help="structured brief: key points, actors, tensions")
    p.add_argument("doc_ids", nargs="*", metavar="DOC_ID")
    p.add_argument("--export", metavar="PATH", help=EXPORT_HELP)
    sub.add_parser("chat", parents=[common, llm], help="interactive questions with follow-ups")

    p = sub.add_parser("eval", parents=[common, llm], help="measure retrieval, QA or summary quality on a dataset")
    p.add_argument("task", choices=["retrieval", "qa", "summary"])
    p.add_argument("--data", required=True, metavar="DIR",
                   help="corpus.jsonl + questions.jsonl (or BEIR), or summaries.jsonl")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="a seeded random sample of N items")
    p.add_argument("--seed", type=int, default=13, help="sampling seed for --limit (default 13)")
    p.add_argument("-k", type=int, default=200, help="retrieval: chunks retrieved per query (default 200)")
    p.add_argument("--max-docs", type=int, default=None, metavar="N",
                   help="cap the corpus at N documents (the evidence of the chosen questions always kept)")
    p.add_argument("--month", metavar="YYYY-MM", help="qa, retrieval: only the questions dated in this month")
    p.add_argument("--workdir", metavar="DIR", help="build and keep the evaluation index here (default: a "
                   "temporary folder); never your --index")

    p = sub.add_parser("serve", parents=[common, llm], help="HTTP API, OpenAI-compatible route and web page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' ($RAG_API_KEY)")
    p.add_argument("--watch", action="append", default=[], metavar="FOLDER",
                   help="also keep the index in step with FOLDER, as `rag watch` does (repeatable)")
    p = sub.add_parser("watch", parents=[common], help="keep the index in step with folders as their files change")
    p.add_argument("paths", nargs="+", metavar="FOLDER")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip matching files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rag` command; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported with the subcommand's usage, not the top level's
        subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subcommands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings = Settings.from_env(
            index_dir=args.index, embedder=args.embedder, store=args.store, model=getattr(args, "model", None),
            llm_url=getattr(args, "llm_url", None), llm_model=getattr(args, "llm_model", None),
            api_key=getattr(args, "api_key", None))
        from rag.assistant import Assistant

        with Assistant(settings) as assistant:
            return COMMANDS[args.command](assistant, args)
    except RagError as exc:
        print(f"Error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return 130


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _lines(source: str) -> list[str]:
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise RagError(f"cannot read batch file {source}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def cmd_ingest(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.render import progress_bar, render_ingest

    with progress_bar() as progress:
        report = assistant.ingest(args.paths, exclude=args.exclude, progress=progress, ray=args.ray)
    if args.json:
        _emit(serialize.ingest_json(report))
    else:
        render_ingest(report)
    return EXIT_ERROR if report.failed else EXIT_OK


def cmd_docs(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.render import render_docs

    docs = assistant.documents()
    _emit([serialize.document_info_json(d) for d in docs]) if args.json else render_docs(docs)
    return EXIT_OK


def cmd_show(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize

    doc = assistant.document(args.doc_id)
    if args.json:
        _emit(serialize.document_json(doc))
    else:
        print(f"{doc.title}  ({doc.date or 'undated'})  {doc.path}\n")
        print(doc.text)
    return EXIT_OK


def cmd_rm(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    removed = assistant.remove(args.doc)
    _emit({"removed": removed}) if args.json else print(f"removed {', '.join(removed)}")
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_search(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.render import render_hits

    if (args.query is None) == (args.batch is None):
        return _usage("give a QUERY or --batch FILE (not both)")
    queries = [args.query] if args.batch is None else _lines(args.batch)
    for query in queries:
        hits = assistant.search(query, k=args.k, mode=args.mode, doc_ids=args.doc, since=args.since, until=args.until)
        if args.json:
            _emit([serialize.hit_json(h) for h in hits])
        else:
            render_hits(query if args.batch else None, hits)
    return EXIT_OK


def cmd_ask(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.exporting import check_export, export_result
    from rag.cli.render import render_answer, token_printer

    if (args.question is None) == (args.batch is None):
        return _usage("give a QUESTION or --batch FILE (not both)")
    if args.batch and args.export:
        return _usage("--export takes one QUESTION, not --batch")
    check_export(args)
    questions = [args.question] if args.batch is None else _lines(args.batch)
    stream = not (args.json or args.no_stream or args.batch) and sys.stdout.isatty()
    for question in questions:
        printer = token_printer() if stream else None
        answer = assistant.ask(question, k=args.k, doc_ids=args.doc, on_token=printer)
        if args.json:
            _emit(serialize.answer_json(answer))
        else:
            render_answer(answer, streamed=printer is not None and printer.printed)
        export_result(assistant, answer, args)
    return EXIT_OK


def cmd_summarize(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.exporting import check_export, export_result
    from rag.cli.render import progress_bar, render_answer, token_printer

    check_export(args)
    stream = not (args.json or args.no_stream) and sys.stdout.isatty()
    with progress_bar("summarize", unit="") as progress:
        printer = token_printer(before_first=progress.close) if stream else None
        summary = assistant.summarize(args.doc_ids, on_token=printer, progress=progress)
    if args.json:
        _emit(serialize.answer_json(summary))
    else:
        render_answer(summary, streamed=printer is not None and printer.printed)
    export_result(assistant, summary, args)
    return EXIT_OK


def cmd_brief(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag import serialize
    from rag.cli.exporting import check_export, export_result
    from rag.cli.render import progress_bar, render_brief

    check_export(args)
    with progress_bar("brief", unit="") as progress:
        brief = assistant.brief(args.doc_ids, progress=progress)
    _emit(serialize.brief_json(brief)) if args.json else render_brief(brief)
    export_result(assistant, brief, args)
    return EXIT_OK


def cmd_chat(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag.cli.render import run_chat

    return run_chat(assistant.chat(), as_json=args.json, interactive=sys.stdin.isatty())


def cmd_serve(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag.server.app import serve

    serve(assistant, host=args.host, port=args.port, watch=args.watch)
    return EXIT_OK


def cmd_watch(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag.cli.watch import cmd_watch as run_watch

    return run_watch(assistant, args)


def cmd_eval(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    from rag.eval.render import render
    from rag.eval.run import run_eval

    result = run_eval(args.task, args.data, assistant.settings, limit=args.limit, seed=args.seed, k=args.k,
                      max_docs=args.max_docs, workdir=args.workdir, month=args.month, progress=True)
    _emit(result) if args.json else print(render(result))
    return EXIT_OK


COMMANDS: dict[str, Callable[[AssistantAPI, argparse.Namespace], int]] = {
    "ingest": cmd_ingest, "docs": cmd_docs, "show": cmd_show, "rm": cmd_rm, "search": cmd_search,
    "ask": cmd_ask, "summarize": cmd_summarize, "brief": cmd_brief, "chat": cmd_chat, "serve": cmd_serve,
    "eval": cmd_eval, "watch": cmd_watch,
}
