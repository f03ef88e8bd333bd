"""Incremental ingest: discover files, skip unchanged ones by content hash, read, chunk and embed
the new or changed ones (reusing cached embeddings of identical text), remove vanished ones."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.errors import DocumentError, RagError
from rag.ingest.chunking import CHUNKER_VERSION, chunk_document
from rag.ingest.documents import read_document
from rag.ingest.sources import discover, hash_file
from rag.store.sqlite import Store, keyword_text
from rag.types import Chunk, Document, IngestFailure, IngestReport, Source

BATCH_CHUNKS = 1024  # chunks embedded (and committed) together
READ_AHEAD_FILES = 2048  # files read and chunked ahead of the embedding by one background thread,
READ_AHEAD_BYTES = 16 << 20  # and at most this much of them on disk (memory stays bounded)
Progress = Callable[[int, int, str], None]  # (files done, files total, current path)
OnCommit = Callable[[list[str]], None]  # doc_ids a catalog commit wrote or removed (a Qdrant store catches up)
T = TypeVar("T")


def chunking_signature(chunk_tokens: int, overlap: int) -> str:
    """How documents were cut; a document cut another way is re-chunked on the next ingest."""
    return f"{CHUNKER_VERSION}/{chunk_tokens}/{overlap}"


def embed_hash(embedder_id: str, text: str) -> str:
    """Key of the embedding cache: the model and the exact text it embedded."""
    return hashlib.sha256(f"{embedder_id}\0{text}".encode()).hexdigest()[:32]


@dataclass
class _Pending:
    items: list[tuple[Document, list[Chunk], bool]] = field(default_factory=list)
    chunks: int = 0


def ingest(store: Store, embedder: Embedder, paths: Sequence[str | Path], *, exclude: Sequence[str] = (),
           chunk_tokens: int = Settings.chunk_tokens, overlap: int = Settings.chunk_overlap,
           progress: Progress | None = None, on_commit: OnCommit | None = None) -> IngestReport:
    """Bring the index in line with `paths`; one bad file never stops the others.

    Call inside `store.writer()`. Each batch of documents is committed in one transaction, so a
    crash leaves every document in its old or its new state; `on_commit` hears of each commit.
    """
    t0 = time.perf_counter()
    found = discover(paths, exclude)
    failures: list[IngestFailure] = list(found.failures)
    signature = chunking_signature(chunk_tokens, overlap)
    known = store.document_state()
    counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0}
    pending = _Pending()
    seen: set[str] = set()

    def flush() -> None:
        if pending.items:
            name = pending.items[-1][0].path
            report = (lambda note: progress(done["files"], total, f"{name} ({note})")) if progress else None
            _write_batch(store, embedder, pending.items, signature, report)
            if on_commit:
                on_commit([doc.doc_id for doc, _, _ in pending.items])
            for _, _, is_new in pending.items:
                counts["added" if is_new else "updated"] += 1
        pending.items.clear()
        pending.chunks = 0

    total = len(found.files)
    done = {"files": 0}
    parse = partial(_prepare, known=known, signature=signature, chunk_tokens=chunk_tokens, overlap=overlap)
    loader: threading.Thread | None = None
    for i, (path, outcome) in enumerate(read_ahead(found.files, parse)):
        done["files"] = i
        seen.add(str(path))
        if progress:
            progress(i, total, str(path))
        if outcome is None:
            counts["unchanged"] += 1
            continue
        if isinstance(outcome, DocumentError):
            failures.append(IngestFailure(str(path), one_line(str(outcome))))
            continue
        loader = loader or load_early(embedder)
        doc, chunks = outcome
        pending.items.append((doc, chunks, str(path) not in known))
        pending.chunks += len(chunks)
        if pending.chunks >= BATCH_CHUNKS:
            flush()
    flush()
    if loader is not None:  # all texts may have come from the embedding cache
        loader.join()
    if progress:
        progress(total, total, "")
    return finish(store, known, seen, found.roots, counts, failures, t0, on_commit)


def load_early(embedder: Embedder) -> threading.Thread:
    """Start loading the embedder's model (when it has a `load`) on a background thread, so that
    importing and compiling it overlap the reading of the first batch; a failure is left for the
    first `embed` to raise again."""
    def run() -> None:
        with contextlib.suppress(RagError, ImportError, OSError, RuntimeError):  # embed() retries and raises it
            getattr(embedder, "load", lambda: None)()

    thread = threading.Thread(target=run, name="rag-embed-load", daemon=True)
    thread.start()
    return thread


def finish(store: Store, known: dict[str, tuple[str, str, str]], seen: set[str], roots: Sequence[Path],
           counts: dict[str, int], failures: list[IngestFailure], t0: float,
           on_commit: OnCommit | None = None) -> IngestReport:
    """The end of every ingest: drop the documents whose files vanished from the walked folders,
    prune unused embeddings and report. `known` is the catalog's state before the ingest, `seen`
    every path found (indexed, unchanged or failed), `counts` the added/updated/unchanged tally."""
    gone = [doc_id for p, (doc_id, _, _) in known.items()
            if p not in seen and _under(p, roots) and not Path(p).exists()]
    store.remove_documents(gone)
    if gone and on_commit:
        on_commit(gone)
    counts["removed"] = len(gone)
    if counts["added"] or counts["updated"] or counts["removed"]:
        store.prune_embeddings()
    docs, chunks = store.counts()
    return IngestReport(documents=docs, chunks=chunks, seconds=round(time.perf_counter() - t0, 3),
                        failed=tuple(failures), **counts)


def _write_batch(store: Store, embedder: Embedder, items: list[tuple[Document, list[Chunk], bool]],
                 signature: str, report: Callable[[str], None] | None = None) -> None:
    """Embed what the cache lacks, BATCH_CHUNKS texts at a time, each slice committed to the
    embedding cache as it is done (a kill loses one slice, a re-run reuses the rest); then the
    documents and chunks in one transaction."""
    texts: list[str] = []
    hashes: list[list[str]] = []
    for doc, chunks, _ in items:
        doc_texts = [keyword_text(doc.title, c.heading, c.text) for c in chunks]
        texts += doc_texts
        hashes.append([embed_hash(embedder.id, t) for t in doc_texts])
    flat = [h for hs in hashes for h in hs]
    cached = set(store.cached_vectors(flat))
    missing = list({h: t for h, t in zip(flat, texts) if h not in cached}.items())
    for start in range(0, len(missing), BATCH_CHUNKS):
        part = missing[start:start + BATCH_CHUNKS]
        fresh = np.asarray(embedder.embed([t for _, t in part]), dtype=np.float32)
        if len(missing) > BATCH_CHUNKS:
            store.put_embeddings(dict(zip((h for h, _ in part), fresh)))
            if report:
                report(f"{min(start + BATCH_CHUNKS, len(missing)):,} of {len(missing):,} chunks embedded")
        else:
            cached_now = dict(zip((h for h, _ in part), fresh))
            break
    else:
        cached_now = {}
    store.put_documents(
        [(doc, chunks, doc_hashes) for (doc, chunks, _), doc_hashes in zip(items, hashes)],
        cached_now, signature)


def _prepare(path: Path, known: dict[str, tuple[str, str, str]], signature: str, chunk_tokens: int,
             overlap: int) -> tuple[Document, list[Chunk]] | DocumentError | None:
    """A file read and chunked; None when it is unchanged since the last ingest, the error when it fails."""
    try:
        source = hash_file(path)
        old = known.get(str(path))
        if old and old[1] == source.sha256 and old[2] == signature:
            return None
        return read_chunks(source, chunk_tokens, overlap)
    except DocumentError as exc:
        return exc


def read_chunks(source: Source, chunk_tokens: int, overlap: int) -> tuple[Document, list[Chunk]]:
    """A file read and chunked; DocumentError when it cannot be read or holds no text."""
    doc = read_document(source)
    chunks = chunk_document(doc, chunk_tokens, overlap)
    if not chunks:
        raise DocumentError(f"{source.path}: no text to index")
    return doc, chunks


def read_ahead(paths: Sequence[Path], parse: Callable[[Path], T]) -> Iterator[tuple[Path, T]]:
    """(path, parse(path)) in order. One background thread parses ahead (up to READ_AHEAD_FILES
    files or READ_AHEAD_BYTES of them on disk, at least one), so reading and chunking (Python) overlap
    the embedding of the batch before (native code that releases the GIL); files not yet started
    when the caller stops are never read."""
    queue = iter(paths)
    window: deque[tuple[Path, int, Future[T]]] = deque()
    held = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-read") as pool:
        def fill() -> None:
            nonlocal held
            while len(window) < READ_AHEAD_FILES and (not window or held < READ_AHEAD_BYTES):
                path = next(queue, None)
                if path is None:
                    return
                size = _size(path)
                window.append((path, size, pool.submit(parse, path)))
                held += size

        try:
            fill()
            while window:
                path, size, future = window.popleft()
                held -= size
                fill()
                yield path, future.result()
        finally:
            for _, _, future in window:
                future.cancel()


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def one_line(message: str) -> str:
    return " ".join(message.split())
