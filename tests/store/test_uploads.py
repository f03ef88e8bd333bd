"""Upload staging in the library (rag.store.uploads): stored under a safe name, rolled back on failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.store.uploads import forget_upload, stage_and_ingest, uploads_dir
from rag.types import IngestFailure, IngestReport


def _report(failed: tuple[IngestFailure, ...] = ()) -> IngestReport:
    return IngestReport(added=0 if failed else 1, updated=0, unchanged=0, removed=0, documents=1, chunks=1,
                        seconds=0.0, failed=failed)


def test_a_good_upload_is_stored_and_ingested(tmp_path: Path) -> None:
    seen: list[list[Path]] = []
    path, report = stage_and_ingest(tmp_path, "note.txt", io.BytesIO(b"The levy starts in May."),
                                    lambda paths: seen.append(paths) or _report())
    assert path == uploads_dir(tmp_path) / "note.txt" and path.read_bytes() == b"The levy starts in May."
    assert seen == [[path]] and report.added == 1
    assert sorted(p.name for p in uploads_dir(tmp_path).iterdir()) == ["note.txt"]  # no staging files left
    forget_upload(tmp_path, str(path))
    assert not path.exists()


def test_a_failed_upload_restores_the_previous_copy(tmp_path: Path) -> None:
    stage_and_ingest(tmp_path, "note.txt", io.BytesIO(b"old"), lambda paths: _report())
    failure = IngestFailure(path=str(uploads_dir(tmp_path) / "note.txt"),
                            error=f"{uploads_dir(tmp_path) / 'note.txt'}: not UTF-8 text")
    with pytest.raises(DocumentError, match=r"^note.txt: nothing was indexed: note.txt: not UTF-8 text$"):
        stage_and_ingest(tmp_path, "note.txt", io.BytesIO(b"new"), lambda paths: _report((failure,)))
    assert (uploads_dir(tmp_path) / "note.txt").read_bytes() == b"old"
    assert sorted(p.name for p in uploads_dir(tmp_path).iterdir()) == ["note.txt"]


def test_an_ingest_that_raises_leaves_nothing_behind(tmp_path: Path) -> None:
    def boom(paths: list[Path]) -> IngestReport:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage_and_ingest(tmp_path, "new.txt", io.BytesIO(b"x"), boom)
    assert list(uploads_dir(tmp_path).iterdir()) == []


def test_forget_upload_leaves_files_outside_the_uploads_folder(tmp_path: Path) -> None:
    outside = tmp_path / "mine.txt"
    outside.write_text("keep")
    forget_upload(tmp_path, str(outside))
    assert outside.exists()
