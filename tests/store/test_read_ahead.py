"""Reading and chunking ahead of the embedding: order kept, look-ahead bounded, errors surfaced,
files past the window never read when the ingest stops; the model loads meanwhile, only when needed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import rag.store.writer as writer
from rag import Assistant, Settings
from rag.errors import ModelError
from tests.fakes import HashingEmbedder


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


class _LoadingEmbedder(HashingEmbedder):
    """Records where and when its model "loads" relative to the first embed."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        self.fail = fail

    def load(self) -> None:
        self.events.append(("load", threading.current_thread().name))
        if self.fail:
            raise ModelError("no model here")

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.events.append(("embed", threading.current_thread().name))
        return super().embed(texts)


def test_the_model_loads_in_the_background_once_there_is_something_to_embed(tmp_path: Path, corpus: Path) -> None:
    embedder = _LoadingEmbedder()
    a = Assistant(Settings.from_env({}, index_dir=tmp_path / "idx"), embedder=embedder)
    assert a.ingest([corpus]).added == 3
    assert embedder.events[0] == ("load", "rag-embed-load")
    assert [e for e, _ in embedder.events].count("load") == 1 and ("embed", "MainThread") in embedder.events
    embedder.events.clear()
    assert a.ingest([corpus]).unchanged == 3
    assert embedder.events == []  # nothing new: the model is not loaded


def test_a_failed_early_load_is_left_for_embed(tmp_path: Path, corpus: Path) -> None:
    embedder = _LoadingEmbedder(fail=True)
    a = Assistant(Settings.from_env({}, index_dir=tmp_path / "idx"), embedder=embedder)
    assert a.ingest([corpus]).added == 3  # this fake embeds without its model; a real one raises in embed()
    assert embedder.events[0] == ("load", "rag-embed-load")
