"""Discovery and hashing of source files: paths and folders -> files to ingest. No parsing."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Sequence

from rag.errors import DocumentError
from rag.types import IngestFailure, Source

FORMATS: dict[str, str] = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
"""Every suffix the readers accept (lower case) and the reader that takes it: the one list."""
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMATS)
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Discovery:
    """What `discover` found: files to read, folders walked, and paths that could not be used."""

    files: tuple[Path, ...]
    roots: tuple[Path, ...]
    failures: tuple[IngestFailure, ...]


def doc_id_for(path: Path) -> str:
    """A stable document id: the first 12 hex chars of sha256 of the resolved absolute path."""
    return hashlib.sha256(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:12]


def hash_file(path: Path) -> Source:
    """Hash a file's bytes (streamed) and record its mtime and size."""
    path = Path(path).resolve()
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            while block := handle.read(_BLOCK):
                digest.update(block)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DocumentError(f"cannot read {path}: {reason}") from exc
    return Source(path=path, sha256=digest.hexdigest(), mtime=stat.st_mtime, size=stat.st_size)


def _supported_list() -> str:
    return " ".join(sorted(SUPPORTED_SUFFIXES))


def _excluded(rel: str, name: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in exclude)


def _walk(root: Path, exclude: Sequence[str], failures: list[IngestFailure]) -> list[Path]:
    """Files with supported suffixes under `root`, skipping hidden entries and symlink loops."""
    found: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()

    def on_error(exc: OSError) -> None:
        failures.append(IngestFailure(str(exc.filename or root), exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        rel_dir = here.relative_to(root)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and not _excluded((rel_dir / d).as_posix(), d, exclude)
        )
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if _excluded((rel_dir / name).as_posix(), name, exclude):
                continue
            candidate = here / name
            if not candidate.exists():
                failures.append(IngestFailure(str(candidate), "broken symbolic link"))
                continue
            if candidate.is_file():
                found.append(candidate.resolve())
            elif not candidate.is_dir():
                failures.append(IngestFailure(str(candidate), "not a regular file (a FIFO, socket or device)"))
    return found


def discover(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> Discovery:
    """Expand files and folders (recursively) into the supported files to ingest.

    Folders contribute files with a supported suffix (case-insensitive); hidden files and
    folders are skipped, symlink loops are walked once, and `exclude` globs (matched against
    the path relative to the folder and against the file name) drop files. An explicit file
    with an unsupported suffix, or a path that does not exist, becomes a failure; this
    function never raises for one bad path.
    """
    files: set[Path] = set()
    roots: list[Path] = []
    failures: list[IngestFailure] = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            failures.append(IngestFailure(str(given), "no such file or folder"))
            continue
        resolved = path.resolve()
        if resolved.is_dir():
            if resolved not in roots:
                roots.append(resolved)
            files.update(_walk(resolved, exclude, failures))
        elif resolved.is_file():
            if exclude and _excluded(path.as_posix(), path.name, exclude):
                continue
            suffix = path.suffix.lower() or "(none)"
            if suffix not in SUPPORTED_SUFFIXES:
                failures.append(
                    IngestFailure(
                        str(resolved),
                        f"unsupported file type {suffix}; supported: {_supported_list()}",
                    )
                )
                continue
            files.add(resolved)
        else:
            failures.append(IngestFailure(str(resolved), "not a regular file or folder"))
    return Discovery(files=tuple(sorted(files)), roots=tuple(roots), failures=tuple(failures))
