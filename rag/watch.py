"""Folder watch: keep the index in step with folders while their files change.

Filesystem events (from `watchfiles`) are filtered to the ones that can change what an ingest of
the folders finds, debounced into batches, and each batch re-runs the incremental ingest of the
watched folders: unchanged files cost a hash, so one run covers adds, edits, deletes, renames and
folders moved in or out, whatever events the platform reported for them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from rag.api import AssistantAPI
from rag.errors import ConfigError, IndexLockedError, RagError
from rag.ingest.sources import SUPPORTED_SUFFIXES
from rag.types import IngestReport

if TYPE_CHECKING:
    from rag.store.writer import Progress

OFFICE_OWNER_FILES = ("~$*",)
"""Excluded on top of the user's globs: Word and Excel write `~$name.docx` beside an open file; it
has a document's suffix but is a lock, never a document."""
TICK_MS = 250
"""How often the loop wakes with no event: the first sync, stop requests and retries wait on it."""
RETRY_S = 2.0
"""Pause before retrying a batch when another process holds the index's write lock."""


@dataclass(frozen=True)
class WatchBatch:
    """One applied batch: the ingest's report, its `failed` narrowed to the files that newly failed
    (or failed again after being changed); `events` is the number of filesystem events it covered
    (0 for the sync at start, `initial`)."""

    report: IngestReport
    events: int
    initial: bool

    def describe(self) -> str:
        """One line: `synced: 3 added, ...` or `2 changes: 1 added, ...`."""
        r = self.report
        what = "synced" if self.initial else f"{self.events} change{'s' if self.events != 1 else ''}"
        return (f"{what}: {r.added} added, {r.updated} updated, {r.removed} removed, {len(r.failed)} failed; "
                f"index holds {r.documents} documents, {r.chunks} chunks ({r.seconds:.1f} s)")


class _Abandoned(Exception):
    """Raised from the ingest's progress callback once a stop is requested."""


class FolderWatch:
    """Keeps the index of `assistant` in step with `folders`.

    `run()` syncs once (the initial batch), then applies each debounced batch of changes until
    `request_stop()`, in the calling thread; `start()`/`stop()` (or `with`) run it in a background
    thread. `on_batch` hears every batch that changed the index or has new failures (and the
    initial one); `on_notice` hears one-line notices (the index busy, the background watch ended).
    """

    def __init__(self, assistant: AssistantAPI, folders: Sequence[str | Path], *, exclude: Sequence[str] = (),
                 on_batch: Callable[[WatchBatch], None] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        if not folders:
            raise ConfigError("give at least one folder to watch")
        for folder in folders:
            path = Path(folder).expanduser()
            if not path.exists():
                raise ConfigError(f"no such folder: {folder} (nothing is watched)")
            if not path.is_dir():
                raise ConfigError(f"not a folder: {folder} (watch the folder that holds it)")
        self.assistant = assistant
        self.folders = tuple(dict.fromkeys(Path(f).expanduser().resolve() for f in folders))
        self.exclude = (*exclude, *OFFICE_OWNER_FILES)
        self.on_batch = on_batch
        self.on_notice = on_notice
        self.ready = threading.Event()
        """Set once the watch is live and the initial sync is applied."""
        self.error: RagError | None = None
        """What ended a background watch, if an error did."""
        self.abandoned = False
        """True when a stop came during an ingest and left it unfinished (the next run finishes it)."""
        self._index_dir = Path(assistant.settings.index_dir).expanduser().resolve()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: dict[str, str] = {}
        self._indexed_dirs: set[str] = set()

    # -- running --------------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> None:
        """Watch until `request_stop()`. A stop during an ingest abandons it at the next file (the
        store is transactional: every document keeps its old or new state). KeyboardInterrupt
        propagates; RagError (a watched folder gone, another embedder's index) ends the watch."""
        import watchfiles

        settings = self.assistant.settings
        paths: set[str] = set()
        events, due, initial, retry_at, busy = 0, True, True, 0.0, False
        try:
            for changes in watchfiles.watch(*self.folders, watch_filter=self._wanted, stop_event=self._stop,
                                            debounce=settings.watch_max_wait_ms, step=settings.watch_debounce_ms,
                                            rust_timeout=TICK_MS, yield_on_timeout=True):
                if self._stop.is_set():
                    return
                paths.update(path for _, path in changes)
                events += len(changes)
                due = due or bool(changes)
                if not due or time.monotonic() < retry_at:
                    continue
                try:
                    self._apply(paths, events, initial, progress if initial else None)
                except IndexLockedError as exc:
                    if not busy:
                        self._notice(f"{exc}; retrying every {RETRY_S:g} s")
                    busy, retry_at = True, time.monotonic() + RETRY_S
                    continue
                paths, events, due, initial, busy = set(), 0, False, False, False
                self.ready.set()
        except _Abandoned:
            self.abandoned = True

    def request_stop(self) -> None:
        """Ask the watch to stop: at once when idle, at the next file when ingesting. Returns at once."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def start(self) -> "FolderWatch":
        """Run the watch in a background thread; a RagError ends it, kept in `error` and noticed."""
        self._thread = threading.Thread(target=self._background, name="rag-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Request a stop and wait (up to `timeout` seconds) for the background thread to end."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "FolderWatch":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _background(self) -> None:
        try:
            self.run()
        except RagError as exc:
            self.error = exc
            self._notice(f"watch stopped: {' '.join(str(exc).split())}")

    # -- one batch ------------------------------------------------------------------------------
    def _apply(self, paths: set[str], events: int, initial: bool, progress: Progress | None) -> None:
        gone = [str(f) for f in self.folders if not f.is_dir()]
        if gone:
            raise ConfigError(f"watched folder {gone[0]} is gone (its documents stay in the index)")

        def checked(done: int, total: int, path: str) -> None:
            if self._stop.is_set():
                raise _Abandoned
            if progress is not None:
                progress(done, total, path)

        report = self.assistant.ingest(self.folders, exclude=self.exclude, progress=checked)
        fresh = tuple(f for f in report.failed if f.path in paths or self._failing.get(f.path) != f.error)
        self._failing = {f.path: f.error for f in report.failed}
        self._indexed_dirs = self._dirs_of_documents()
        if self.on_batch and (initial or report.added or report.updated or report.removed or fresh):
            self.on_batch(WatchBatch(dataclasses.replace(report, failed=fresh), events, initial))

    def _dirs_of_documents(self) -> set[str]:
        """Every folder (watched roots included) that holds an indexed document under a root."""
        dirs: set[str] = set()
        for info in self.assistant.documents():
            path = Path(info.path)
            for parent in path.parents:
                if not any(parent == root or root in parent.parents for root in self.folders):
                    break
                dirs.add(str(parent))
        return dirs

    def _wanted(self, change: object, path: str) -> bool:
        """Whether an event can change what an ingest of the folders finds: a supported file (not
        hidden, not excluded), a folder appearing, or a folder that held documents vanishing.
        Editors' temp and backup files (`.swp`, `~`, `.part`, `#...#`) and the index's own files
        are not."""
        import watchfiles

        p = Path(path)
        if p == self._index_dir or self._index_dir in p.parents:
            return False
        deleted = change == watchfiles.Change.deleted
        for root in self.folders:
            if p == root:
                return deleted
            if root not in p.parents:
                continue
            parts = p.relative_to(root).parts
            if any(part.startswith(".") for part in parts):
                continue
            if any(_excluded("/".join(parts[:i + 1]), parts[i], self.exclude) for i in range(len(parts))):
                continue
            if p.suffix.lower() in SUPPORTED_SUFFIXES:
                return True
            if deleted:
                return path in self._indexed_dirs
            return p.is_dir()
        return False

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)


def _excluded(rel: str, name: str, exclude: Sequence[str]) -> bool:
    """The exclusion rule of rag.ingest.sources: a glob matches the relative path or the name."""
    return any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in exclude)
