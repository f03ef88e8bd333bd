"""The Qdrant adapter of the store protocol: `qdrant:PATH` (Qdrant's local mode, no server) or
`http(s)://host:port` (a Qdrant server or cluster), through qdrant-client, imported only here.

One point per chunk: id = the chunk's SQLite rowid, a named dense vector (cosine) and a named
sparse BM25 vector (rag.store.sparse; the IDF modifier makes Qdrant weigh terms over the whole
collection), payload {doc_id, chunk_id, day (YYYYMMDD, dated documents only), gen, cat}.

Crash-safety contract (SQLite first, Qdrant catches up; `rag.store.sqlite` holds the other half):
1. A batch of documents is committed to SQLite in one transaction (generation G-1 -> G). Their
   chunks get fresh rowids (AUTOINCREMENT: a rowid is never reused), hence fresh point ids.
2. `apply` upserts the batch's points tagged gen = G, then deletes the batch documents' points
   tagged gen < G, then records "Qdrant reflects G" in `qdrant.json` in the index folder
   (written atomically). It does so only when the record said G-1; otherwise it reconciles.
3. `refresh` (on open, and before each search when the catalog moved) reconciles whenever the
   record is not the catalog's generation: every point id is listed, the catalog's chunks missing
   from the collection are upserted from SQLite's stored vectors (no re-embedding), the points the
   catalog lacks are deleted. Only the holder of the index's write lock reconciles.
4. Every hit is read back through SQLite and a point whose rowid SQLite lacks is dropped, so
   between 1 and 2 a document shows its new state (or no hit), never a mix, never a duplicate.
A `kill -9` anywhere therefore leaves SQLite in the old or new state of each document and the
collection converging to it on the next open; a re-run of the ingest gives what a clean one does.
`cat` is the catalog's creation stamp: points another catalog wrote (a rebuilt index folder whose
rowids start again at 1) are treated as missing and rewritten.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from rag.config import Settings
from rag.errors import ConfigError, IndexMismatchError, StoreUnavailableError
from rag.store.backend import ChunkFilter, Scores, store_kind
from rag.store.manifest import write_atomic
from rag.store.sparse import document_vectors, query_vector
from rag.store.sqlite import Store, keyword_text

log = logging.getLogger("rag.store")

DENSE, SPARSE = "dense", "bm25"
SYNC_FILE = "qdrant.json"
UPSERT_BATCH = 256  # points per request: ~0.5 MB of JSON with 384-dim vectors, well under Qdrant's 32 MB cap
SCROLL_PAGE = 10_000  # ids per page when listing the collection (ids only: ~100 KB a page)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
T = TypeVar("T")


def _day(date: str | None) -> int | None:
    return int(date.replace("-", "")) if date and _DAY.match(date) else None


class QdrantIndex:
    """A Qdrant collection as the search side of an index (see the module's contract)."""

    def __init__(self, client: Any, uri: str, collection: str, store: Store) -> None:
        self._client = client
        self.uri = uri
        self.collection = collection
        self.generation = -1
        self._catalog = f"{store.manifest.created:.6f}"
        self._sync_path = store.index_dir / SYNC_FILE

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, store: Store) -> "QdrantIndex":
        """Connect, create the collection if missing (or check its dimension), and bring it in
        line with the catalog when the index's write lock is free."""
        uri = settings.store.strip()
        client = _connect(uri, settings)
        index = cls(client, uri, settings.qdrant_collection, store)
        index._ensure_collection(store.manifest.dim)
        if index._read_sync() == store.generation and index.stats()["chunks"] != store.counts()[1]:
            index._write_sync(-1)  # the collection changed behind the catalog's back (wiped, restored)
        index.refresh(store)
        return index

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one client call; a server that is unreachable or refuses is StoreUnavailableError."""
        return _guard(self.uri, what, lambda: fn(*args, **kwargs))

    def _ensure_collection(self, dim: int) -> None:
        from qdrant_client import models

        if not self._call("list collections", self._client.collection_exists, self.collection):
            self._call("create the collection", self._client.create_collection, self.collection,
                       vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
                       sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)})
            if not self.uri.startswith("qdrant:"):  # local mode scans payloads; a server wants indexes
                for name, schema in (("doc_id", models.PayloadSchemaType.KEYWORD),
                                     ("day", models.PayloadSchemaType.INTEGER),
                                     ("gen", models.PayloadSchemaType.INTEGER)):
                    self._call("index the payload", self._client.create_payload_index, self.collection, name,
                               field_schema=schema)
            self._write_sync(-1)
            return
        info = self._call("read the collection", self._client.get_collection, self.collection)
        vectors = info.config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        sparse = info.config.params.sparse_vectors or {}
        if params is None or SPARSE not in sparse:
            raise IndexMismatchError(f"Qdrant collection {self.collection!r} at {self.uri} was not made by rag "
                                     f"(no {DENSE!r} and {SPARSE!r} vectors): choose another with RAG_QDRANT_COLLECTION")
        if params.size != dim:
            raise IndexMismatchError(
                f"Qdrant collection {self.collection!r} at {self.uri} holds {params.size}-dimension vectors; the "
                f"index's embedder gives {dim}: delete the collection or choose another with RAG_QDRANT_COLLECTION")

    # -- keeping up with the catalog -----------------------------------------------------------
    def _read_sync(self) -> int:
        try:
            data = json.loads(self._sync_path.read_text())
        except (OSError, ValueError):
            return -1
        same = data.get("uri") == self.uri and data.get("collection") == self.collection
        return int(data.get("generation", -1)) if same else -1

    def _write_sync(self, generation: int) -> None:
        data = {"uri": self.uri, "collection": self.collection, "generation": generation}
        write_atomic(self._sync_path, json.dumps(data).encode())
        self.generation = generation

    def refresh(self, store: Store, locked: bool = False) -> None:
        """Reconcile with the catalog if it moved past what the collection reflects. Without
        `locked` (the caller holds the write lock) it takes the lock, or leaves the work to the
        process that holds it."""
        gen = store.generation
        if self.generation == gen:
            return
        if self._read_sync() == gen:
            self.generation = gen
            return
        if locked:
            self.reconcile(store)
            return
        from rag.errors import IndexLockedError

        try:
            with store.writer():
                self.reconcile(store)
        except (IndexLockedError, PermissionError):
            pass  # another process is writing and will sync; hits are read through SQLite meanwhile

    def reconcile(self, store: Store) -> None:
        """Make the collection hold exactly the catalog's chunks (call with the write lock held)."""
        from qdrant_client import models

        gen = store.generation
        held: dict[int, Any] = {}
        offset = None
        while True:
            points, offset = self._call("list points", self._client.scroll, self.collection, limit=SCROLL_PAGE,
                                        offset=offset, with_payload=models.PayloadSelectorInclude(include=["cat"]),
                                        with_vectors=False)
            held.update((int(p.id), (p.payload or {}).get("cat")) for p in points)
            if offset is None:
                break
        wanted = set(store.rowids_where((), None, None).tolist())
        stale = sorted(set(held) - wanted)
        missing = sorted(r for r in wanted if held.get(r) != self._catalog)
        if stale or missing:
            log.info("qdrant %s: %d points to write, %d to delete", self.uri, len(missing), len(stale))
        self._upsert(store, missing, gen)
        for i in range(0, len(stale), SCROLL_PAGE):
            self._call("delete points", self._client.delete, self.collection,
                       points_selector=models.PointIdsList(points=stale[i:i + SCROLL_PAGE]), wait=True)
        self._write_sync(gen)

    def apply(self, store: Store, doc_ids: Sequence[str]) -> None:
        from qdrant_client import models

        gen = store.generation
        if self._read_sync() != gen - 1:
            self.reconcile(store)
            return
        if doc_ids:
            self._upsert(store, store.rowids_where(tuple(doc_ids), None, None).tolist(), gen)
            older = models.Filter(must=[
                models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(doc_ids))),
                models.FieldCondition(key="gen", range=models.Range(lt=gen))])
            self._call("delete points", self._client.delete, self.collection,
                       points_selector=models.FilterSelector(filter=older), wait=True)
        self._write_sync(gen)

    def _upsert(self, store: Store, rowids: Sequence[int], gen: int) -> None:
        from qdrant_client import models

        for i in range(0, len(rowids), UPSERT_BATCH):
            part = list(rowids[i:i + UPSERT_BATCH])
            rows = store.chunks_by_rowid(part)
            ids, vecs = store.vectors(part)
            vec_of = dict(zip(ids.tolist(), vecs))
            order = [r for r in part if r in rows and r in vec_of]
            sparse = document_vectors([keyword_text(rows[r][2], rows[r][0].heading, rows[r][0].text) for r in order])
            points = []
            for rowid, (indices, values) in zip(order, sparse):
                chunk, _, _, date = rows[rowid]
                payload: dict[str, Any] = {"doc_id": chunk.doc_id, "chunk_id": chunk.chunk_id, "gen": gen,
                                           "cat": self._catalog}
                if _day(date) is not None:
                    payload["day"] = _day(date)
                points.append(models.PointStruct(id=rowid, payload=payload, vector={
                    DENSE: vec_of[rowid].tolist(), SPARSE: models.SparseVector(indices=indices, values=values)}))
            if points:
                self._call("write points", self._client.upsert, self.collection, points=points, wait=True)

    # -- search ---------------------------------------------------------------------------------
    def candidates(self, store: Store, vector: np.ndarray | None, text: str | None, n: int,
                   where: ChunkFilter) -> tuple[Scores, Scores]:
        from qdrant_client import models

        flt = _filter(where)
        requests, sides = [], []
        if vector is not None:
            requests.append(models.QueryRequest(query=np.asarray(vector, dtype=np.float32).tolist(), using=DENSE,
                                                limit=n, filter=flt))
            sides.append("dense")
        if text is not None:
            indices, values = query_vector(text)
            if indices:
                requests.append(models.QueryRequest(query=models.SparseVector(indices=indices, values=values),
                                                    using=SPARSE, limit=n, filter=flt))
                sides.append("bm25")
        found: dict[str, Scores] = {"dense": {}, "bm25": {}}
        if requests:
            responses = self._call("search", self._client.query_batch_points, self.collection, requests=requests)
            for side, response in zip(sides, responses):
                found[side] = {int(p.id): float(p.score) for p in response.points if p.score > 0 or side == "dense"}
        known = store.dates_by_rowid(list(set(found["dense"]) | set(found["bm25"])))
        return ({r: s for r, s in found["dense"].items() if r in known},
                {r: s for r, s in found["bm25"].items() if r in known})

    def stats(self) -> dict[str, Any]:
        count = self._call("count points", self._client.count, self.collection, exact=True)
        return {"store": self.uri, "collection": self.collection, "chunks": int(count.count),
                "generation": self.generation}

    def close(self) -> None:
        try:
            self._client.close()
        except (RuntimeError, OSError):
            pass  # closing twice, or a connection already gone


def _filter(where: ChunkFilter) -> Any:
    from qdrant_client import models

    if not where:
        return None
    must: list[Any] = []
    if where.doc_ids:
        must.append(models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(where.doc_ids))))
    if where.since or where.until:
        must.append(models.FieldCondition(key="day", range=models.Range(gte=_day(where.since), lte=_day(where.until))))
    return models.Filter(must=must)


def _guard(uri: str, what: str, fn: Callable[[], T]) -> T:
    from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

    try:
        return fn()
    except UnexpectedResponse as exc:
        reason = f"HTTP {exc.status_code} {exc.reason_phrase}".strip()
        if exc.status_code in (401, 403):
            reason += " (check RAG_QDRANT_API_KEY)"
        raise StoreUnavailableError(f"Qdrant at {uri} refused to {what}: {reason}") from exc
    except (ApiException, OSError) as exc:
        source = getattr(exc, "source", exc)
        raise StoreUnavailableError(f"Qdrant at {uri} is unreachable ({what}): "
                                    f"{type(source).__name__}: {' '.join(str(source).split())[:200]}") from exc


def _connect(uri: str, settings: Settings) -> Any:
    kind = store_kind(uri)
    if kind == "local":
        raise ConfigError("the local store is not a Qdrant store")
    from qdrant_client import QdrantClient

    if kind == "qdrant-path":
        folder = Path(uri[len("qdrant:"):]).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"--store {uri}: {folder} is a file, not a folder")
        try:
            return QdrantClient(path=str(folder))
        except RuntimeError as exc:
            raise StoreUnavailableError(
                f"--store {uri}: the folder is open in another process (Qdrant's local mode allows one; "
                f"use a Qdrant server for several)") from exc
        except (OSError, ValueError) as exc:
            raise StoreUnavailableError(f"--store {uri}: cannot open {folder}: {exc}") from exc
    try:
        return QdrantClient(url=uri, api_key=settings.qdrant_api_key, timeout=settings.qdrant_timeout_s,
                            check_compatibility=False)
    except ValueError as exc:
        raise ConfigError(f"--store {uri}: {exc}") from exc

