"""Hybrid search: dense (FAISS) + BM25, fused by a convex mix of min-max-normalised scores,
with document/date filters and a near-duplicate filter for diversity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.errors import ConfigError
from rag.store.indexes import SearchIndexes
from rag.store.sqlite import Store
from rag.thresholds import THRESHOLDS
from rag.types import Hit

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Query:
    """A search request: the text, how many hits, which retriever and which filters."""

    text: str
    k: int = Settings.k
    mode: str = "hybrid"
    doc_ids: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    dense_weight: float = Settings.dense_weight
    diverse: bool = True


def search(store: Store, indexes: SearchIndexes, embedder: Embedder, query: Query) -> list[Hit]:
    """The best `query.k` hits, best first, ranks from 1."""
    if query.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {query.mode!r}")
    if not query.text.strip():
        raise ConfigError("the query is empty")
    allowed = None
    if query.doc_ids or query.since or query.until:
        allowed = store.rowids_where(query.doc_ids, query.since, query.until)
    n = max(THRESHOLDS.candidates, query.k * 4)
    dense: dict[int, float] = {}
    bm25: dict[int, float] = {}
    if query.mode in ("hybrid", "dense"):
        ids, scores = indexes.vectors.search(embedder.embed_query(query.text), n, allowed)
        dense = dict(zip(ids.tolist(), scores.tolist()))
    if query.mode in ("hybrid", "bm25"):
        ids, scores = indexes.keywords.search(query.text, n, allowed)
        bm25 = dict(zip(ids.tolist(), scores.tolist()))
    if query.mode == "dense":
        fused = dense
    elif query.mode == "bm25":
        fused = bm25
    else:
        fused = fuse(dense, bm25, query.dense_weight)
    order = sorted(fused, key=lambda r: (-fused[r], r))
    if query.diverse:
        order = drop_near_duplicates(store, order, query.k)
    top = order[: query.k]
    rows = store.chunks_by_rowid(top)
    hits = []
    for rank, rowid in enumerate((r for r in top if r in rows), start=1):
        chunk, path, title, date = rows[rowid]
        hits.append(Hit(rank=rank, score=round(float(fused[rowid]), 6), chunk=chunk, path=path, title=title,
                        date=date, dense_score=dense.get(rowid), bm25_score=bm25.get(rowid)))
    return hits


def fuse(dense: dict[int, float], bm25: dict[int, float], dense_weight: float) -> dict[int, float]:
    """Convex mix of min-max-normalised scores; a retriever that missed a chunk gives it 0."""
    d, b = _minmax(dense), _minmax(bm25)
    return {r: dense_weight * d.get(r, 0.0) + (1.0 - dense_weight) * b.get(r, 0.0) for r in set(d) | set(b)}


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {r: 1.0 for r in scores}
    return {r: (s - lo) / (hi - lo) for r, s in scores.items()}


def drop_near_duplicates(store: Store, order: Sequence[int], k: int) -> list[int]:
    """`order` without hits whose vector is a near-copy of a better one, until k are kept."""
    window = list(order[: max(k * 4, 20)])
    if len(window) <= 1:
        return list(order)
    ids, vecs = store.vectors(window)
    by_id = dict(zip(ids.tolist(), vecs))
    kept: list[int] = []
    kept_vecs: list[np.ndarray] = []
    for rowid in window:
        vec = by_id.get(rowid)
        if vec is None:
            continue
        if kept_vecs and float(np.max(np.stack(kept_vecs) @ vec)) > THRESHOLDS.near_duplicate:
            continue
        kept.append(rowid)
        kept_vecs.append(vec)
        if len(kept) >= k:
            break
    return kept + [r for r in order[len(window):]]
