"""Export of answers, summaries and briefs as files an analyst can forward: Markdown with
footnotes (`.md`) or Word (`.docx`), every quote checked against its document first.

`from_answer` / `from_brief` build the Export (and check the quotes), `render` turns it into
bytes, `write_export` writes them atomically (a temporary file in the same folder, then a rename:
a failed export leaves nothing behind). The CLI and the server call only these.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

from rag.errors import ExportError
from rag.export.content import DocumentLookup, Export, from_answer, from_brief

FORMATS = {".md": "md", ".markdown": "md", ".docx": "docx"}
MEDIA_TYPES = {"md": "text/markdown; charset=utf-8",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}

__all__ = ["FORMATS", "MEDIA_TYPES", "DocumentLookup", "Export", "check_target", "export_format", "file_name",
           "from_answer", "from_brief", "render", "write_export"]


def export_format(path: str | Path) -> str:
    """"md" or "docx", from the file name's suffix; ExportError for any other."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ExportError(f"cannot export to {path}: the file name must end in .md or .docx")
    return fmt


def check_target(path: str | Path) -> str:
    """The format of `path`, once its suffix is known and its folder exists (checked before any work
    is done, so an answer is not computed for nothing); ExportError otherwise."""
    fmt = export_format(path)
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"cannot export to {path}: it is a folder")
    if not target.absolute().parent.is_dir():
        raise ExportError(f"cannot export to {path}: no folder {target.absolute().parent}")
    return fmt


def render(export: Export, fmt: str, now: datetime | None = None) -> bytes:
    """The file's bytes in format "md" or "docx"."""
    if fmt == "md":
        from rag.export.markdown import to_markdown

        return to_markdown(export).encode("utf-8")
    if fmt == "docx":
        from rag.export.word import to_docx

        return to_docx(export, now=now)
    raise ExportError(f"unknown export format {fmt!r}: use md or docx")


def write_export(export: Export, path: str | Path, now: datetime | None = None) -> Path:
    """Write `export` to `path` (format from its suffix), atomically; returns the path written."""
    target = Path(path)
    data = render(export, check_target(target), now=now)
    folder = target.absolute().parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportError(f"cannot export to {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot export to {path}: {exc.strerror or exc}") from exc
    return target


def _file_mode() -> int:
    """The mode a new file gets under the process's umask (mkstemp's own is 0600)."""
    mask = os.umask(0o22)
    os.umask(mask)
    return 0o666 & ~mask


def file_name(export: Export, fmt: str, now: datetime | None = None) -> str:
    """A download name such as `brief-2026-05-03-coastal-levy.docx` (ASCII, at most ~80 characters)."""
    words = unicodedata.normalize("NFKD", export.title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:60].rstrip("-")
    day = (now or datetime.now()).strftime("%Y-%m-%d")
    return "-".join(p for p in (export.kind, day, slug) if p) + "." + fmt
