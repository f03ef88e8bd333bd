"""The store protocol: the search side of an index, with two adapters.

In every mode SQLite (`rag.store.sqlite.Store`, the catalog in the `--index` folder) is the truth
for documents, their text, pages, sections, chunks with their offsets, the embedding cache and the
manifest. What answers a search is a `ChunkIndex`:

- `local` (the default): FAISS and bm25s files derived from SQLite (`rag.store.indexes.SearchIndexes`);
- `qdrant:PATH` or `http(s)://host:port`: a Qdrant collection (`rag.store.qdrant.QdrantIndex`)
  holding each chunk's dense vector, its BM25 sparse vector and a small payload.

A write goes to SQLite first (one transaction a batch, as always); the index then catches up with
`apply` (the documents of that commit) or `refresh` (anything, after a crash or another process's
write). A hit is only ever read back through SQLite, so a point the catalog no longer holds is
never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from rag.config import STORE_KINDS, store_kind  # noqa: F401  (re-exported: the store's URI forms)
from rag.store.sqlite import Store

Scores = dict[int, float]
"""chunk rowid -> score"""


@dataclass(frozen=True)
class ChunkFilter:
    """Which chunks a search may return: of these documents (all when empty), of documents dated
    within [since, until] (a date bound drops undated documents)."""

    doc_ids: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.since or self.until)


@runtime_checkable
class ChunkIndex(Protocol):
    """What the Assistant needs from the search side of a store."""

    uri: str
    """`local`, `qdrant:PATH` or the server's URL."""
    generation: int
    """The catalog generation the index reflects."""

    def candidates(self, store: Store, vector: np.ndarray | None, text: str | None, n: int,
                   where: ChunkFilter) -> tuple[Scores, Scores]:
        """(dense cosine scores, BM25 scores) of the best n chunks each; a side is skipped (empty)
        when its query (the embedded question, or its text) is None."""
        ...

    def apply(self, store: Store, doc_ids: Sequence[str]) -> None:
        """After a catalog commit that wrote or removed these documents: index their current
        chunks, drop their earlier ones."""
        ...

    def stats(self) -> dict[str, Any]:
        """{"store", "chunks", ...}: what the index holds."""
        ...

    def close(self) -> None:
        ...
