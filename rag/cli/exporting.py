"""`--export PATH` of `rag ask`, `rag summarize` and `rag brief`: the target is checked before any
work, the result written (Markdown or Word, by suffix) once it is known; stdout keeps the result."""

from __future__ import annotations

import argparse
import sys

from rag.api import AssistantAPI
from rag.types import Answer, Brief

HELP = "also write the result to PATH: .md (Markdown with footnotes) or .docx (Word), every quote checked"


def check_export(args: argparse.Namespace) -> None:
    """ExportError now (before the model runs) when `--export` names an unknown suffix or a missing folder."""
    if getattr(args, "export", None):
        from rag.export import check_target

        check_target(args.export)


def brief_title(assistant: AssistantAPI, doc_ids: list[str]) -> str:
    """`Brief of the whole corpus`, or `Brief of <titles>` for the chosen documents."""
    if not doc_ids:
        return "Brief of the whole corpus"
    return "Brief of " + ", ".join(assistant.document(d).title for d in doc_ids)


def export_result(assistant: AssistantAPI, result: Answer | Brief, args: argparse.Namespace) -> None:
    """Write `result` to `args.export` when given, and say so on stderr."""
    path = getattr(args, "export", None)
    if not path:
        return
    from rag.export import from_answer, from_brief, write_export

    if isinstance(result, Brief):
        export = from_brief(result, assistant.document, title=brief_title(assistant, args.doc_ids),
                            index_version=assistant.stats()["version"])
    else:
        export = from_answer(result, assistant.document)
    written = write_export(export, path)
    print(f"exported to {written} ({len(export.sources)} sources, every quote checked)", file=sys.stderr)
