"""`rag watch FOLDER...`: the shell over rag.watch.FolderWatch. One line per applied batch on
stdout (one JSON object per batch with --json); failures and notices on stderr."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from rag.api import AssistantAPI

if TYPE_CHECKING:
    from rag.watch import FolderWatch, WatchBatch

EXIT_OK, EXIT_FORCED = 0, 130


def cmd_watch(assistant: AssistantAPI, args: argparse.Namespace) -> int:
    """Sync the folders, then follow their changes until Ctrl-C (or SIGTERM): exit 0. A second
    Ctrl-C while an ingest is being abandoned stops at once: exit 130 (the store stays crash-safe)."""
    from rag.cli.render import progress_bar
    from rag.watch import FolderWatch

    with progress_bar() as progress:
        def on_batch(batch: WatchBatch) -> None:
            if batch.initial:
                progress.close()
            print_batch(batch, as_json=args.json)

        watch = FolderWatch(assistant, args.paths, exclude=args.exclude, on_batch=on_batch, on_notice=notice)
        notice(f"watching {', '.join(str(f) for f in watch.folders)}; Ctrl-C stops")
        try:
            with _stop_on_signals(watch):
                watch.run(progress=progress)
        except KeyboardInterrupt:
            progress.close()
            notice("stopped at once; the index is consistent (each document in its old or new state)")
            return EXIT_FORCED
    notice("stopped watching" + ("; the batch in progress is left for the next run" if watch.abandoned else ""))
    return EXIT_OK


def print_batch(batch: WatchBatch, as_json: bool = False) -> None:
    """One batch: `HH:MM:SS  N added, ...` (or a JSON object) on stdout, each failure on stderr."""
    from rag import serialize

    r = batch.report
    now = datetime.now().astimezone()
    if as_json:
        line = {"time": now.isoformat(timespec="seconds"), "initial": batch.initial, "events": batch.events,
                **serialize.ingest_json(r)}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    print(f"{now:%H:%M:%S}  {batch.describe()}", flush=True)
    for f in r.failed:
        print(f"failed: {f.path}: {f.error}", file=sys.stderr, flush=True)


def notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _stop_on_signals(watch: FolderWatch) -> Iterator[None]:
    """SIGINT/SIGTERM request a stop; one more while stopping raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if watch.stopping:
            raise KeyboardInterrupt
        watch.request_stop()

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
