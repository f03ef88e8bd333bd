"""Reading and chunking ahead of the embedding: order kept, look-ahead bounded, errors surfaced,
files past the window never read when the ingest stops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import rag.store.writer as writer


def _files(folder: Path, n: int, size: int = 10) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(n):
        path = folder / f"{i:03d}.txt"
        path.write_text("x" * size)
        paths.append(path)
    return paths


def test_results_come_in_order_from_another_thread(tmp_path: Path) -> None:
    paths = _files(tmp_path / "d", 50)
    threads: set[str] = set()

    def parse(path: Path) -> str:
        threads.add(threading.current_thread().name)
        return path.name.upper()

    assert list(writer.read_ahead(paths, parse)) == [(p, p.name.upper()) for p in paths]
    assert threads and all(name.startswith("rag-read") for name in threads)


def test_look_ahead_is_bounded_by_bytes_and_stops_with_the_caller(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path / "d", 40, size=1000)
    monkeypatch.setattr(writer, "READ_AHEAD_BYTES", 5000)
    started: list[Path] = []
    gate = threading.Event()

    def parse(path: Path) -> int:
        started.append(path)
        gate.wait(5)
        return len(started)

    stream = writer.read_ahead(paths, parse)
    gate.set()
    first = [next(stream) for _ in range(3)]
    assert [p for p, _ in first] == paths[:3]
    stream.close()
    assert len(started) <= 3 + 6  # at most ~5,000 bytes of files ahead of the consumer, never all 40
    assert paths[-1] not in started


def test_an_unexpected_error_reaches_the_caller(tmp_path: Path) -> None:
    paths = _files(tmp_path / "d", 5)

    def parse(path: Path) -> str:
        if path.name == "002.txt":
            raise RuntimeError("reader bug")
        return path.name

    stream = writer.read_ahead(paths, parse)
    assert [next(stream)[1], next(stream)[1]] == ["000.txt", "001.txt"]
    with pytest.raises(RuntimeError, match="reader bug"):
        next(stream)
