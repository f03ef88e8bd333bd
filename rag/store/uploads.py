"""Uploaded files: kept under `<index>/uploads/` with a safe name, ingested at once, and rolled
back (the previous copy restored, or nothing left) when the new file cannot be indexed.

Staging contract: the new bytes go to a hidden `.NAME.partial` file first; an existing copy is set
aside as `.NAME.previous` only once the new one is complete, and put back if ingesting the new one
fails or raises. So a failed upload leaves the folder and the index as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import BinaryIO, Callable

from rag.errors import ConfigError, DocumentError
from rag.types import IngestReport

UPLOADS_FOLDER = "uploads"
MAX_NAME = 100
_UNSAFE = re.compile(r"[^\w\-. ]+")


def safe_filename(name: str) -> str:
    """A plain file name from a client-supplied one: no folders, no '..', no control or odd characters.

    >>> safe_filename("../../evil.txt")
    'evil.txt'
    """
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/").split("/")[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = ext, ""
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip(" ._")[:MAX_NAME] or "upload"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def uploads_dir(index_dir: Path) -> Path:
    """Where uploaded files are kept: `<index>/uploads/`."""
    return Path(index_dir) / UPLOADS_FOLDER


def forget_upload(index_dir: Path, path: str) -> None:
    """Delete the stored copy of an uploaded document (documents ingested from elsewhere are left alone)."""
    folder = uploads_dir(index_dir).resolve()
    file = Path(path).resolve()
    if file.parent == folder:
        file.unlink(missing_ok=True)


def stage_and_ingest(index_dir: Path, name: str, data: BinaryIO,
                     ingest: Callable[[list[Path]], IngestReport]) -> tuple[Path, IngestReport]:
    """Store `data` as `<index>/uploads/<name>` and run `ingest` on it; roll back on any failure.

    Returns the stored path and the ingest report; raises DocumentError (naming `name`, never the
    server's folders) when the file could not be indexed. The caller serialises calls.
    """
    folder = uploads_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.resolve().parent != folder.resolve():
        raise ConfigError(f"refusing the file name {name!r}")
    partial = folder / f".{name}.partial"
    with partial.open("wb") as out:
        shutil.copyfileobj(data, out, 1 << 20)
    previous = folder / f".{name}.previous"
    had_previous = target.exists()
    if had_previous:
        os.replace(target, previous)
    os.replace(partial, target)
    try:
        report = ingest([target])
    except BaseException:
        _roll_back(target, previous, had_previous)
        raise
    failures = [f.error for f in report.failed]
    if failures:
        _roll_back(target, previous, had_previous)
        reason = failures[0].replace(str(target.resolve()), name).replace(str(target), name)
        raise DocumentError(f"{name}: nothing was indexed: {reason}")
    if had_previous:
        previous.unlink(missing_ok=True)
    return target, report


def _roll_back(target: Path, previous: Path, had_previous: bool) -> None:
    target.unlink(missing_ok=True)
    if had_previous:
        os.replace(previous, target)
