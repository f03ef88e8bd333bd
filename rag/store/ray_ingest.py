"""Batch ingest on Ray Data: read, chunk and embed files across a Ray cluster's workers, commit on
the driver.

The contract is the plain ingest's (`rag.store.writer.ingest`): the same files are found, the same
unchanged ones skipped by SHA-256, the same chunks and vectors written, one bad file never stops
the others, and each batch of documents is committed to the catalog in one transaction, so a
crash leaves every document in its old or its new state and a re-run finishes the rest.

What runs where:

- driver (this process): walk the folders, hash each file and compare with the catalog (cheap),
  then take the workers' results as they stream in and commit them `BATCH_CHUNKS` chunks at a time
  into SQLite; the chosen store (local files or Qdrant) catches up through `on_commit`;
- workers, as Ray Data tasks (`_process`): read, chunk and embed 16-256 files each, the
  embedder loaded once per worker process and kept for its next tasks. A task asks for all the CPUs
  of a node by default, so each node runs one at a time and the embedder's threads use its cores.

Workers must see the files at the same paths (a shared file system) and have briefing-rag and its
embedder installed; they never touch the index folder. The embedding cache is not consulted on the
workers (it lives in the driver's SQLite): every chunk of a new or changed file is embedded there,
and the vectors are cached as usual, so later plain ingests reuse them.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from rag.config import Settings, configure_offline
from rag.errors import ClusterError, DocumentError, ModelError, RagError
from rag.ingest.sources import discover, hash_file
from rag.store.sqlite import Store, keyword_text
from rag.store.writer import (BATCH_CHUNKS, OnCommit, Progress, chunking_signature, embed_hash, finish, one_line,
                              read_chunks)
from rag.types import Chunk, Document, IngestFailure, IngestReport, Source

TASKS_PER_SLOT = 4  # tasks per slot (a node's worth of CPUs): enough to balance uneven files across the nodes
FILES_PER_TASK = (16, 256)  # bounds on the files a task reads, chunks and embeds: fewer pay Ray's per-task cost
# for little work (1,000 SciFact abstracts: 65 s in tasks of 16, 40 s of 128, 36 s of 250; README "Batch ingest
# on Ray Data"), more delay the first commit and hold more in memory
LOCAL = "local"


@dataclass(frozen=True)
class RayPlan:
    """How the work is spread: `address` of the cluster ("local" starts a private Ray on this
    machine) and the CPUs each task asks for (0: all of a node's)."""

    address: str = LOCAL
    cpus_per_task: int = 0


def _reachable(address: str, timeout: float = 5.0) -> None:
    """ClusterError unless something listens at HOST:PORT (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise ClusterError(f"Ray at {address} is unreachable: {type(exc).__name__}: {exc}") from exc


def _start(address: str) -> tuple[Any, bool]:
    """(ray, whether this call connected it), initialised for `address` (a private cluster when
    "local"); ClusterError when it cannot be."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report: nothing leaves the machine
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"rag ingest --ray needs Ray Data: pip install 'ray[data]' ({exc})") from exc
    if ray.is_initialized():
        return ray, False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    try:
        if address == LOCAL:
            # a private cluster of this process, on loopback only
            ray.init(num_cpus=os.cpu_count() or 1, _node_ip_address="127.0.0.1", **kwargs)
        else:
            if address != "auto":
                _reachable(address)
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise ClusterError(f"Ray at {address} cannot be used: {one_line(str(exc))[:300]}") from exc
    context = ray.data.DataContext.get_current()
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # a failure raises here, as one error
    context.enable_progress_bars = False  # rag's own progress line reports the files
    return ray, True


def _process(batch: dict[str, np.ndarray], settings: Settings, expected_id: str) -> dict[str, list]:
    """Ray task: read and chunk each file of the batch, then embed all their chunks in one call.
    A file that cannot be read gets its one-line error instead; any other error of the library
    (the embedder) travels back pickled in `fatal`, since Ray would hide its type."""
    try:
        return _embed_batch(batch, settings, expected_id)
    except RagError as exc:
        n = len(batch["path"])
        return {"path": [str(p) for p in batch["path"]], "error": [""] * n, "blob": [b""] * n,
                "fatal": [pickle.dumps(exc)] * n}


def _embed_batch(batch: dict[str, np.ndarray], settings: Settings, expected_id: str) -> dict[str, list]:
    """The embedder is loaded once per worker process (`load_embedder` keeps it) and reused by the
    next tasks there."""
    from rag.embed.embedder import load_embedder

    configure_offline()
    embedder = load_embedder(settings)
    if embedder.id != expected_id:
        raise ModelError(f"a Ray worker's embedder is {embedder.id}, the index's {expected_id}")
    rows: list[tuple[str, str, tuple[Document, list[Chunk], list[str]] | None]] = []
    texts: list[str] = []
    for path, sha, mtime, size in zip(batch["path"], batch["sha256"], batch["mtime"], batch["size"]):
        try:
            source = Source(Path(str(path)), str(sha), float(mtime), int(size))
            doc, chunks = read_chunks(source, settings.chunk_tokens, settings.chunk_overlap)
        except DocumentError as exc:
            rows.append((str(path), one_line(str(exc)), None))
            continue
        doc_texts = [keyword_text(doc.title, c.heading, c.text) for c in chunks]
        rows.append((str(path), "", (doc, chunks, doc_texts)))
        texts += doc_texts
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32) if texts else np.zeros((0, 0), np.float32)
    out: dict[str, list] = {"path": [], "error": [], "blob": [], "fatal": []}
    at = 0
    for path, error, read in rows:
        blob = b""
        if read is not None:
            doc, chunks, doc_texts = read
            hashes = [embed_hash(embedder.id, t) for t in doc_texts]
            blob = pickle.dumps((doc, chunks, hashes, vectors[at:at + len(chunks)]), protocol=pickle.HIGHEST_PROTOCOL)
            at += len(chunks)
        out["path"].append(path)
        out["error"].append(error)
        out["blob"].append(blob)
        out["fatal"].append(b"")
    return out


def _cpus_per_task(ray: Any, plan: RayPlan) -> int:
    """By default all the CPUs of the smallest node: one task per node at a time, the embedder
    running its own threads across the cores it has (several per node would compete for them)."""
    if plan.cpus_per_task:
        return plan.cpus_per_task
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return max(1, min((int(n.get("Resources", {}).get("CPU", 1)) for n in nodes), default=1))


def files_per_task(files: int, slots: int) -> int:
    """Files one task takes: about TASKS_PER_SLOT tasks for each slot, within FILES_PER_TASK."""
    low, high = FILES_PER_TASK
    return max(low, min(high, -(-files // (TASKS_PER_SLOT * max(1, slots)))))


def _results(ray: Any, sources: list[Source], settings: Settings, expected_id: str,
             plan: RayPlan) -> Iterator[tuple[str, str, bytes]]:
    """(path, error, blob) for each source, as the workers finish them (in no fixed order)."""
    per = _cpus_per_task(ray, plan)
    size = files_per_task(len(sources), int(ray.cluster_resources().get("CPU", per)) // per)
    items = [{"path": str(s.path), "sha256": s.sha256, "mtime": s.mtime, "size": s.size} for s in sources]
    ds = ray.data.from_items(items, override_num_blocks=-(-len(items) // size))
    ds = ds.map_batches(_process, batch_size=size, batch_format="numpy", num_cpus=per,
                        fn_kwargs={"settings": settings, "expected_id": expected_id})
    for row in ds.iter_rows():
        if row["fatal"]:
            raise pickle.loads(bytes(row["fatal"]))
        yield str(row["path"]), str(row["error"]), bytes(row["blob"])


def ingest_on_ray(store: Store, settings: Settings, expected_id: str, paths: Sequence[str | Path], *,
                  exclude: Sequence[str] = (), plan: RayPlan = RayPlan(), progress: Progress | None = None,
                  on_commit: OnCommit | None = None) -> IngestReport:
    """`rag.store.writer.ingest` with the reading, chunking and embedding done by Ray Data workers.

    Call inside `store.writer()`. `expected_id` is the index's embedder id; a worker whose embedder
    differs is a ModelError. ClusterError when Ray cannot be started or reached.
    """
    t0 = time.perf_counter()
    found = discover(paths, exclude)
    failures: list[IngestFailure] = list(found.failures)
    signature = chunking_signature(settings.chunk_tokens, settings.chunk_overlap)
    known = store.document_state()
    counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0}
    seen: set[str] = set()
    todo: list[Source] = []
    for path in found.files:
        seen.add(str(path))
        try:
            source = hash_file(path)
        except DocumentError as exc:
            failures.append(IngestFailure(str(path), one_line(str(exc))))
            continue
        old = known.get(str(path))
        if old and old[1] == source.sha256 and old[2] == signature:
            counts["unchanged"] += 1
        else:
            todo.append(source)

    total = len(found.files)
    done = counts["unchanged"] + len(failures) - len(found.failures)
    if progress:
        progress(done, total, "")
    if todo:
        ray, started = _start(plan.address)
        pending: list[tuple[Document, list[Chunk], list[str]]] = []
        vectors: dict[str, np.ndarray] = {}

        def commit() -> None:
            store.put_documents(pending, vectors, signature)
            if on_commit:
                on_commit([doc.doc_id for doc, _, _ in pending])
            for doc, _, _ in pending:
                counts["updated" if str(doc.path) in known else "added"] += 1
            pending.clear()
            vectors.clear()

        try:
            for path, error, blob in _results(ray, todo, settings, expected_id, plan):
                done += 1
                if progress:
                    progress(done, total, path)
                if error:
                    failures.append(IngestFailure(path, error))
                    continue
                doc, chunks, hashes, vecs = pickle.loads(blob)
                pending.append((doc, chunks, hashes))
                vectors.update(zip(hashes, vecs))
                if len(vectors) >= BATCH_CHUNKS:
                    commit()
            if pending:
                commit()
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"Ray at {plan.address} failed during the ingest (the documents committed so far "
                               f"are kept; re-run to finish): {one_line(str(exc))[:300]}") from exc
        finally:
            if started:
                ray.shutdown()  # a private cluster's workers (each holding an embedder) stop with the ingest
    if progress:
        progress(total, total, "")
    return finish(store, known, seen, found.roots, counts, failures, t0, on_commit)
