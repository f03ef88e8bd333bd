"""`rag watch`: the shell in-process (fake models, a real watcher, a real SIGINT), its errors as a
real process, then end to end (`@pytest.mark.e2e`): a real `rag watch` with the packaged models."""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from rag import Assistant, Settings
from rag.cli.watch import cmd_watch
from tests.fakes import HashingEmbedder, ScriptedGenerator

TIMEOUT_S = 10.0


def wait_until(condition: Callable[[], object], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "levy.md").write_text("# Coastal levy\n\nThe coastal levy takes effect on 1 January 2027.\n")
    return docs


@pytest.mark.parametrize("as_json", [True, False])
def test_one_line_per_batch_and_sigint_exits_0(tmp_path, folder, monkeypatch, as_json):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assistant = Assistant(Settings(index_dir=tmp_path / "index", watch_debounce_ms=150), embedder=HashingEmbedder(),
                          generator=ScriptedGenerator())
    lines = lambda: out.getvalue().splitlines()  # noqa: E731

    def act() -> None:
        try:
            wait_until(lambda: len(lines()) == 1, "the initial sync printed")
            (folder / "ports.txt").write_text("Port note\n\nThe port of Kessel deepens its channel.\n")
            wait_until(lambda: len(lines()) == 2, "the new file's batch printed")
            (folder / "broken.pdf").write_bytes(b"%PDF-1.4 and nothing else")
            wait_until(lambda: "broken.pdf" in err.getvalue() or "broken.pdf" in out.getvalue(), "the failure")
            (folder / "levy.md").unlink()
            wait_until(lambda: len(lines()) == 4, "the removal's batch printed")
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=act)
    helper.start()
    code = cmd_watch(assistant, argparse.Namespace(paths=[str(folder)], exclude=[], json=as_json))
    helper.join()
    assistant.close()
    assert code == 0
    assert err.getvalue().splitlines()[0] == f"watching {folder}; Ctrl-C stops"
    assert err.getvalue().splitlines()[-1] == "stopped watching"
    if as_json:
        batches = [json.loads(line) for line in lines()]
        assert [(b["initial"], b["added"], b["removed"], len(b["failed"])) for b in batches] == [
            (True, 1, 0, 0), (False, 1, 0, 0), (False, 0, 0, 1), (False, 0, 1, 0)]
        assert batches[2]["failed"][0]["path"].endswith("broken.pdf") and batches[2]["failed"][0]["error"]
        assert batches[1]["events"] >= 1 and batches[1]["documents"] == 2 and "time" in batches[0]
    else:
        first, added, failed, removed = lines()
        assert "  synced: 1 added, 0 updated, 0 removed, 0 failed; index holds 1 documents, 1 chunks (" in first
        assert "1 added" in added and "1 failed" in failed and "1 removed" in removed
        failures = [line for line in err.getvalue().splitlines() if line.startswith("failed: ")]
        assert len(failures) == 1 and failures[0].startswith(f"failed: {folder / 'broken.pdf'}: ")


class GatedEmbedder(HashingEmbedder):
    """Stays inside `embed` for TIMEOUT_S once armed, as a long embedding would (coming back to
    Python every 50 ms, where signal handlers run)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()

    def embed(self, texts):
        if self.armed:
            self.entered.set()
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline:
                time.sleep(0.05)
        return super().embed(texts)


def test_sigint_abandons_the_ingest_in_flight_and_a_second_one_exits_130(tmp_path, folder, monkeypatch):
    from rag.watch import FolderWatch

    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", err)
    asked = threading.Event()
    request_stop = FolderWatch.request_stop
    monkeypatch.setattr(FolderWatch, "request_stop", lambda self: (request_stop(self), asked.set()))
    embedder = GatedEmbedder()
    assistant = Assistant(Settings(index_dir=tmp_path / "index", watch_debounce_ms=150), embedder=embedder,
                          generator=ScriptedGenerator())

    main = threading.main_thread().ident  # the signal goes to the thread that handles it, as Ctrl-C does

    def act() -> None:
        try:
            wait_until(lambda: (tmp_path / "index").exists() and assistant.stats()["documents"] == 1, "the sync")
            embedder.armed = True
            (folder / "ports.txt").write_text("Port note\n\nThe port of Kessel deepens its channel.\n")
            assert embedder.entered.wait(TIMEOUT_S)
            signal.pthread_kill(main, signal.SIGINT)
            assert asked.wait(TIMEOUT_S)
        finally:
            signal.pthread_kill(main, signal.SIGINT)

    helper = threading.Thread(target=act)
    helper.start()
    started = time.monotonic()
    code = cmd_watch(assistant, argparse.Namespace(paths=[str(folder)], exclude=[], json=False))
    helper.join()
    assistant.close()
    assert code == 130 and time.monotonic() - started < TIMEOUT_S
    assert err.getvalue().splitlines()[-1].startswith("stopped at once; the index is consistent")
    fresh = Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=ScriptedGenerator())
    assert [Path(d.path).name for d in fresh.documents()] == ["levy.md"]  # the abandoned batch left no trace
    assert fresh.ingest([folder]).added == 1 and len(fresh.documents()) == 2
    fresh.close()


def rag(*args: str, index: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "RAG_INDEX": str(index), "RAG_API_KEY": ""}
    return subprocess.Popen([sys.executable, "-m", "rag", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("command", [["watch"], ["serve", "--port", "0", "--watch"]])
def test_a_missing_folder_is_one_error_line(tmp_path, folder, command):
    proc = rag(*command, str(tmp_path / "nope"), index=tmp_path / "index")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == ""
    assert err.splitlines() == [f"Error: no such folder: {tmp_path / 'nope'} (nothing is watched)"]


def reader(stream) -> "queue.Queue[str]":
    """The lines of `stream` as they come, read in a thread (readline alone would block a test)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.mark.e2e
def test_rag_watch_makes_a_new_file_searchable_in_seconds_and_sigint_exits_clean(tmp_path, folder):
    index = tmp_path / "index"
    proc = rag("watch", str(folder), "--json", index=index)
    try:
        lines = reader(proc.stdout)
        first = json.loads(lines.get(timeout=120))  # the packaged embedder loads for the initial sync
        assert first["initial"] and first["added"] == 1
        written = time.monotonic()
        (folder / "ports.txt").write_text("Port note\n\nThe port of Kessel will deepen its channel to 16 metres.\n")
        batch = json.loads(lines.get(timeout=30))
        assert batch["added"] == 1 and batch["documents"] == 2 and time.monotonic() - written < 10
        search = subprocess.run([sys.executable, "-m", "rag", "search", "Kessel channel depth", "-k", "1", "--json",
                                 "--index", str(index)], capture_output=True, text=True, timeout=120)
        assert json.loads(search.stdout)[0]["path"] == str(folder / "ports.txt")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err.strip().endswith("stopped watching")
    reopened = Assistant(Settings.from_env({}, index_dir=index))
    assert sorted(Path(d.path).name for d in reopened.documents()) == ["levy.md", "ports.txt"]
    reopened.close()
