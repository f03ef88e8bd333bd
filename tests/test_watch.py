"""rag.watch.FolderWatch: a real watcher on a real temporary folder, over the real Assistant with the
fake models. Every wait is bounded: the test polls the index until it reaches the state."""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from rag import Assistant, Settings
from rag.errors import ConfigError
from rag.types import IngestReport
from rag.watch import FolderWatch, WatchBatch
from tests.fakes import HashingEmbedder, ScriptedGenerator

TIMEOUT_S = 10.0


def wait_until(condition: Callable[[], object], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        time.sleep(0.05)


def wait_batch(seen: "Recorder", since: int, matches: Callable[[IngestReport], object], what: str) -> None:
    """Wait for a batch after the first `since` whose report `matches`."""
    wait_until(lambda: any(matches(b.report) for b in seen.batches[since:]), what)


def note(title: str, body: str) -> str:
    return f"# {title}\n\n{body}\n"


class Counting(Assistant):
    """The real Assistant, counting its ingest calls."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ingests = 0

    def ingest(self, *args, **kwargs):
        self.ingests += 1
        return super().ingest(*args, **kwargs)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "levy.md").write_text(note("Coastal levy", "The coastal levy takes effect on 1 January 2027."))
    return docs


def make_assistant(tmp_path: Path, embedder: HashingEmbedder | None = None, **settings) -> Counting:
    settings.setdefault("watch_debounce_ms", 150)
    settings.setdefault("index_dir", tmp_path / "index")
    return Counting(Settings(**settings), embedder=embedder or HashingEmbedder(),
                    generator=ScriptedGenerator())


class Recorder:
    def __init__(self) -> None:
        self.batches: list[WatchBatch] = []
        self.notices: list[str] = []


def started(assistant: Assistant, folders: list[Path], **kwargs) -> tuple[FolderWatch, Recorder]:
    seen = Recorder()
    watch = FolderWatch(assistant, folders, on_batch=seen.batches.append, on_notice=seen.notices.append, **kwargs)
    watch.start()
    assert watch.ready.wait(TIMEOUT_S), "the watch did not get ready"
    return watch, seen


def paths(assistant: Assistant) -> set[str]:
    return {Path(d.path).name for d in assistant.documents()}


def test_new_changed_renamed_and_deleted_files_are_followed(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    watch, seen = started(assistant, [folder])
    try:
        assert paths(assistant) == {"levy.md"} and seen.batches[0].initial and seen.batches[0].report.added == 1
        since = len(seen.batches)
        (folder / "ports.txt").write_text("Port note\n\nThe port of Kessel deepens its channel to 16 metres.\n")
        wait_batch(seen, since, lambda r: r.added == 1, "a new file indexed")
        assert paths(assistant) == {"levy.md", "ports.txt"}
        assert assistant.search("Kessel channel", k=1)[0].path.endswith("ports.txt")

        since = len(seen.batches)
        (folder / "levy.md").write_text(note("Coastal levy", "The levy was postponed to 1 July 2028."))
        wait_batch(seen, since, lambda r: r.updated == 1, "a changed file re-indexed")
        levy = next(d.doc_id for d in assistant.documents() if d.path.endswith("levy.md"))
        assert "postponed" in assistant.document(levy).text and not seen.batches[-1].initial

        os.rename(folder / "ports.txt", folder / "harbour.txt")
        wait_until(lambda: paths(assistant) == {"levy.md", "harbour.txt"}, "a renamed file followed")
        since = len(seen.batches)
        (folder / "harbour.txt").unlink()
        wait_batch(seen, since, lambda r: r.removed == 1 and r.added == 0, "a deleted file removed")
        assert paths(assistant) == {"levy.md"} and watch.error is None
    finally:
        watch.stop()
    assert not watch._thread.is_alive()


def test_a_burst_of_100_files_is_one_ingest(tmp_path, folder):
    assistant = make_assistant(tmp_path, watch_debounce_ms=400)
    watch, seen = started(assistant, [folder])
    try:
        before = assistant.ingests
        for i in range(100):
            (folder / f"note-{i:03}.txt").write_text(f"Note {i}\n\nItem {i} of the burst of memos.\n")
        wait_until(lambda: len(seen.batches) > 1, "the burst indexed")
        assert len(assistant.documents()) == 101 and assistant.ingests - before == 1
        assert seen.batches[-1].report.added == 100 and seen.batches[-1].events >= 100
    finally:
        watch.stop()


def test_editor_temp_backup_and_hidden_files_start_no_ingest(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    watch, seen = started(assistant, [folder], exclude=["drafts"])
    try:
        before = assistant.ingests
        (folder / ".levy.md.swp").write_bytes(b"vim swap")
        (folder / "levy.md~").write_text("a backup")
        (folder / "report.pdf.part").write_bytes(b"half a download")
        (folder / "#levy.md#").write_text("emacs autosave")
        (folder / "4913").write_text("")  # vim's write test
        (folder / "4913").unlink()
        (folder / "~$minutes.docx").write_bytes(b"word owner file")
        (folder / ".hidden").mkdir()
        (folder / ".hidden" / "secret.md").write_text(note("Secret", "Not to be indexed."))
        (folder / "drafts").mkdir()
        (folder / "drafts" / "draft.md").write_text(note("Draft", "An excluded draft."))
        time.sleep(3 * assistant.settings.watch_debounce_ms / 1000)  # long enough for a batch to have fired
        assert assistant.ingests == before

        (folder / "levy.md.tmp").write_text(note("Coastal levy", "Saved atomically: the levy doubles."))
        os.replace(folder / "levy.md.tmp", folder / "levy.md")  # how many editors save
        wait_until(lambda: seen.batches[-1].report.updated == 1, "the atomic save applied")
        assert paths(assistant) == {"levy.md"} and assistant.ingests == before + 1
    finally:
        watch.stop()


def test_a_folder_moved_in_and_out_is_followed(tmp_path, folder):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.md").write_text(note("Alpha", "Alpha memo on grid storage."))
    (outside / "b.txt").write_text("Bravo\n\nBravo memo on dredging.\n")
    assistant = make_assistant(tmp_path)
    watch, _ = started(assistant, [folder])
    try:
        shutil.move(str(outside), str(folder / "moved"))
        wait_until(lambda: paths(assistant) == {"levy.md", "a.md", "b.txt"}, "a folder moved in indexed")
        shutil.move(str(folder / "moved"), str(tmp_path / "away"))
        wait_until(lambda: paths(assistant) == {"levy.md"}, "a folder moved out removed")
    finally:
        watch.stop()


def test_a_bad_file_is_reported_once_and_the_watch_goes_on(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    watch, seen = started(assistant, [folder])
    try:
        since = len(seen.batches)
        (folder / "broken.pdf").write_bytes(b"%PDF-1.4 and nothing else")
        wait_batch(seen, since, lambda r: r.failed, "the failure reported")
        failure, = seen.batches[-1].report.failed
        assert failure.path.endswith("broken.pdf") and "\n" not in failure.error and failure.error
        since = len(seen.batches)
        (folder / "ports.txt").write_text("Port note\n\nThe port deepens its channel.\n")
        wait_batch(seen, since, lambda r: r.added == 1, "the next file indexed")
        assert seen.batches[-1].report.failed == () and "ports.txt" in paths(assistant)
        since = len(seen.batches)
        (folder / "broken.pdf").write_bytes(b"%PDF-1.4 still broken")  # changed again: reported again
        wait_batch(seen, since, lambda r: r.failed, "the changed failure reported again")
        assert watch.error is None and watch._thread.is_alive()
    finally:
        watch.stop()


class GatedEmbedder(HashingEmbedder):
    """Blocks inside `embed` while `gate` is clear, once armed."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed(self, texts):
        if self.armed:
            self.entered.set()
            assert self.gate.wait(TIMEOUT_S)
        return super().embed(texts)


def test_a_stop_during_an_ingest_leaves_a_consistent_index(tmp_path, folder):
    embedder = GatedEmbedder()
    assistant = make_assistant(tmp_path, embedder=embedder)
    watch, _ = started(assistant, [folder])
    embedder.armed = True
    (folder / "levy.md").unlink()
    for name in ("a", "b", "c"):
        (folder / f"{name}.md").write_text(note(name.upper(), f"Memo {name} on the harbour budget."))
    assert embedder.entered.wait(TIMEOUT_S), "the ingest did not start"
    watch.request_stop()
    embedder.gate.set()
    watch.stop(timeout=TIMEOUT_S)
    assert not watch._thread.is_alive() and watch.abandoned and watch.error is None
    assistant.close()

    fresh = Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=ScriptedGenerator())
    for info in fresh.documents():  # each document whole: old or new, never half
        assert info.path.endswith("levy.md") or fresh.document(info.doc_id).text == Path(info.path).read_text()
    assert fresh.search("harbour budget", k=3)
    report = fresh.ingest([folder])
    assert paths(fresh) == {"a.md", "b.md", "c.md"} and not report.failed
    fresh.close()


def test_a_busy_index_is_retried(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    watch, seen = started(assistant, [folder])
    try:
        with open(tmp_path / "index" / ".write.lock", "a+") as lock:  # as another `rag ingest` holds it
            fcntl.flock(lock, fcntl.LOCK_EX)
            (folder / "ports.txt").write_text("Port note\n\nThe port deepens its channel.\n")
            wait_until(lambda: any("another process is writing" in n for n in seen.notices), "the busy notice")
            assert "ports.txt" not in paths(assistant)
        wait_until(lambda: "ports.txt" in paths(assistant), "the retried batch applied")
        assert len([n for n in seen.notices if "another process" in n]) == 1
    finally:
        watch.stop()


def test_a_missing_folder_or_a_file_is_a_clear_error(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    with pytest.raises(ConfigError, match=f"no such folder: {tmp_path / 'nope'}"):
        FolderWatch(assistant, [folder, tmp_path / "nope"])
    with pytest.raises(ConfigError, match="not a folder: .*levy.md"):
        FolderWatch(assistant, [folder / "levy.md"])
    with pytest.raises(ConfigError, match="at least one folder"):
        FolderWatch(assistant, [])


def test_a_watched_folder_removed_ends_the_watch_with_an_error(tmp_path, folder):
    assistant = make_assistant(tmp_path)
    watch, seen = started(assistant, [folder])
    shutil.rmtree(folder)
    try:
        wait_until(lambda: not watch._thread.is_alive(), "the watch ended")
    finally:
        watch.stop()
    assert isinstance(watch.error, ConfigError) and "is gone" in str(watch.error)
    assert any(n.startswith("watch stopped: watched folder") for n in seen.notices)
    assert paths(assistant) == {"levy.md"}  # kept, as the message says


def test_the_event_filter(tmp_path, folder):
    from watchfiles import Change

    assistant = make_assistant(tmp_path, index_dir=folder / "index")
    watch = FolderWatch(assistant, [folder], exclude=["*.draft.md", "old"])
    (folder / "sub").mkdir()
    watch._indexed_dirs = {str(folder / "gone")}
    wanted = {
        (Change.added, folder / "a.md"): True,
        (Change.modified, folder / "B.HTML"): True,
        (Change.deleted, folder / "a.docx"): True,
        (Change.added, folder / "sub"): True,
        (Change.deleted, folder / "gone"): True,  # a folder that held documents
        (Change.deleted, folder / "empty"): False,
        (Change.deleted, folder): True,
        (Change.added, folder / "a.md.swp"): False,
        (Change.added, folder / ".a.md.swp"): False,
        (Change.added, folder / "x.part"): False,
        (Change.added, folder / "~$a.docx"): False,
        (Change.added, folder / "n.draft.md"): False,
        (Change.added, folder / "old" / "n.md"): False,
        (Change.added, folder / ".git" / "n.md"): False,
        (Change.added, folder / "index" / "README.md"): False,  # the index's own files
        (Change.added, tmp_path / "elsewhere.md"): False,
    }
    assert {key: watch._wanted(key[0], str(key[1])) for key in wanted} == wanted


def test_watch_settings_are_checked():
    assert Settings.from_env({"RAG_WATCH_DEBOUNCE_MS": "250"}).watch_debounce_ms == 250
    with pytest.raises(ConfigError, match="watch_debounce_ms"):
        Settings.from_env({"RAG_WATCH_DEBOUNCE_MS": "9000"})
