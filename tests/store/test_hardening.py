"""Damaged or misplaced index files: a clear error naming the file, or a rebuild of what is derived."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.errors import ConfigError, IndexCorruptError
from tests.fakes import HashingEmbedder


def _assistant(index: Path) -> Assistant:
    return Assistant(Settings.from_env({}, index_dir=index), embedder=HashingEmbedder())


def _indexed(tmp_path: Path, corpus: Path) -> Path:
    index = tmp_path / "index"
    with _assistant(index) as a:
        a.ingest([corpus])
    return index


def _top(index: Path, query: str = "battery storage") -> list[str]:
    with _assistant(index) as a:
        return [h.chunk_id for h in a.search(query, k=3)]


def test_zero_byte_sqlite_beside_a_manifest_is_reported_corrupt(tmp_path, corpus):
    index = _indexed(tmp_path, corpus)
    (index / "rag.sqlite").write_bytes(b"")
    for name in list(index.iterdir()):
        if name.name.startswith("rag.sqlite-"):
            name.unlink()
    with pytest.raises(IndexCorruptError, match=r"rag\.sqlite.*(empty|rebuild)"):
        _assistant(index).ingest([corpus])
    with pytest.raises(IndexCorruptError, match=r"rag\.sqlite"):
        _assistant(index).search("battery")


def test_index_option_naming_a_regular_file_is_one_clear_error(tmp_path, corpus):
    not_a_folder = tmp_path / "index.txt"
    not_a_folder.write_text("notes")
    with pytest.raises(ConfigError, match="index.txt is a file, not a folder"):
        _assistant(not_a_folder).ingest([corpus])
    with pytest.raises(ConfigError, match="index.txt is a file, not a folder"):
        _assistant(not_a_folder).search("battery")
    assert not_a_folder.read_text() == "notes"


def test_manifest_dimension_disagreeing_with_the_vectors_is_caught_on_open(tmp_path, corpus):
    index = _indexed(tmp_path, corpus)
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["embedder"]["dim"] += 1
    (index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match=r"manifest\.json.*dimension"):
        _assistant(index).search("battery")


def _derived(index: Path, pattern: str) -> Path:
    found = sorted(index.glob(pattern))
    assert found, pattern
    return found[-1]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_faiss_file_is_rebuilt_from_sqlite(tmp_path, corpus, damage, caplog):
    index = _indexed(tmp_path, corpus)
    expected = _top(index)
    faiss_file = _derived(index, "vectors.g*.faiss")
    data = faiss_file.read_bytes()
    faiss_file.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x13" * len(data))
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert _top(index) == expected
    assert any("rebuilt" in r.getMessage() and faiss_file.name in r.getMessage() for r in caplog.records)
    assert _top(index) == expected  # and saved: the next open loads it as it is
    with _assistant(index) as a:
        assert a.ingest([corpus]).unchanged > 0


def test_garbage_bm25_files_are_rebuilt_and_ingest_is_not_blocked(tmp_path, corpus, caplog):
    index = _indexed(tmp_path, corpus)
    expected = _top(index)
    folder = _derived(index, "bm25.g*")
    for part in folder.iterdir():
        if part.name != "ids.npy":
            part.write_bytes(b"not json {")
    with caplog.at_level(logging.WARNING, logger="rag"):
        with _assistant(index) as a:
            report = a.ingest([corpus])
            assert report.unchanged > 0 and not report.failed
    assert any("rebuilt" in r.getMessage() for r in caplog.records)
    assert _top(index) == expected


def test_bm25_ids_that_do_not_match_the_chunks_are_rebuilt_not_dropped(tmp_path, corpus):
    index = _indexed(tmp_path, corpus)
    with _assistant(index) as a:
        keyword_hits = [h.chunk_id for h in a.search("battery storage", k=3, mode="bm25")]
    assert keyword_hits
    folder = _derived(index, "bm25.g*")
    ids = np.load(folder / "ids.npy")
    np.save(folder / "ids.npy", ids + 10_000)
    with _assistant(index) as a:
        assert [h.chunk_id for h in a.search("battery storage", k=3, mode="bm25")] == keyword_hits


class _Killed(RuntimeError):
    pass


class _DiesAfter(HashingEmbedder):
    """Embeds `batches` batches, then fails as a killed process would stop."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.left = batches
        self.embedded = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        if self.left == 0:
            raise _Killed("killed")
        self.left -= 1
        self.embedded += len(texts)
        return super().embed(texts)


def test_a_huge_file_keeps_its_embedded_parts_when_the_ingest_dies(tmp_path, monkeypatch):
    import rag.store.writer as writer

    monkeypatch.setattr(writer, "BATCH_CHUNKS", 8)
    folder = tmp_path / "big"
    folder.mkdir()
    words = "levy harbour storage grid minister budget flood battery port tariff council quay".split()
    paragraphs = [" ".join(words[(i + j) % len(words)] + str(i) for j in range(60)) + "." for i in range(60)]
    (folder / "huge.txt").write_text("Huge report\n\n" + "\n\n".join(paragraphs))
    index = tmp_path / "index"
    settings = Settings.from_env({}, index_dir=index, chunk_tokens=40, chunk_overlap=0)
    dying = _DiesAfter(batches=3)
    with pytest.raises(_Killed):
        Assistant(settings, embedder=dying).ingest([folder])
    assert dying.embedded == 24
    notes: list[str] = []
    again = _DiesAfter(batches=1000)
    with Assistant(settings, embedder=again) as a:
        report = a.ingest([folder], progress=lambda done, total, current: notes.append(current))
        chunks = report.chunks
    assert report.added == 1 and chunks > 24
    assert again.embedded == chunks - 24  # the 24 embedded before the failure were kept
    assert any("chunks embedded" in n for n in notes)


def test_ingest_progress_is_logged_as_lines_when_stderr_is_not_a_terminal(capsys):
    from rag.cli.render import progress_bar

    with progress_bar(log_every_s=0.0) as progress:
        progress(0, 2, "/docs/a.txt")
        progress(0, 2, "/docs/a.txt (1,024 of 9,000 chunks embedded)")
    err = capsys.readouterr().err.splitlines()
    assert err == ["ingest: 0/2 files; /docs/a.txt", "ingest: 0/2 files; /docs/a.txt (1,024 of 9,000 chunks embedded)"]
