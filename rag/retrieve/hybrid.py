"""Hybrid search: dense + BM25 (from the local FAISS/bm25s files or from Qdrant), fused by a convex
mix of min-max-normalised scores, with document/date filters and a near-duplicate filter for diversity."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.errors import ConfigError
from rag.retrieve.dates import DateHint, in_range
from rag.store.backend import ChunkFilter, ChunkIndex
from rag.store.sqlite import Store
from rag.thresholds import THRESHOLDS
from rag.types import Copy, Hit

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
    dates: DateHint | None = None
    """When the question is about (rag.retrieve.dates): hits inside the range, or the newest, are boosted."""


def search(store: Store, indexes: ChunkIndex, embedder: Embedder, query: Query) -> list[Hit]:
    """The best `query.k` hits, best first, ranks from 1, from either store (rag.store.backend)."""
    if query.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {query.mode!r}")
    if not query.text.strip():
        raise ConfigError("the query is empty")
    where = ChunkFilter(tuple(query.doc_ids), query.since, query.until)
    n = max(THRESHOLDS.candidates, query.k * 4)
    vector = embedder.embed_query(query.text) if query.mode in ("hybrid", "dense") else None
    dense, bm25 = indexes.candidates(store, vector, query.text if query.mode in ("hybrid", "bm25") else None,
                                     n, where)
    if query.mode == "dense":
        fused = dense
    elif query.mode == "bm25":
        fused = bm25
    else:
        fused = fuse(dense, bm25, query.dense_weight)
    if query.dates is not None and fused:
        fused = boost_dates(fused, store.dates_by_rowid(list(fused)), query.dates)
    order = sorted(fused, key=lambda r: (-fused[r], r))
    copies_of: dict[int, list[int]] = {}
    if query.diverse:
        order, copies_of = drop_near_duplicates(store, order, query.k)
    top = order[: query.k]
    rows = store.chunks_by_rowid(top + [c for r in top for c in copies_of.get(r, [])])
    hits = []
    for rank, rowid in enumerate((r for r in top if r in rows), start=1):
        chunk, path, title, date = rows[rowid]
        copies = tuple(dict.fromkeys(
            Copy(rows[c][0].doc_id, rows[c][1], rows[c][2], rows[c][3]) for c in copies_of.get(rowid, [])
            if c in rows and rows[c][0].doc_id != chunk.doc_id))
        hits.append(Hit(rank=rank, score=round(float(fused[rowid]), 6), chunk=chunk, path=path, title=title,
                        date=date, dense_score=dense.get(rowid), bm25_score=bm25.get(rowid), copies=copies,
                        in_dates=query.dates is not None and in_range(date, query.dates)))
    return hits


def with_new_documents(hits: Sequence[Hit], k: int, new_documents: int) -> list[Hit]:
    """The best `k` of `hits` whose last `new_documents` are each the best hit of a document not among
    the hits before it (topped up with the skipped hits when fewer documents match), in rank order,
    ranks renumbered from 1."""
    head = list(hits[: max(0, k - new_documents)])
    seen = {h.doc_id for h in head}
    extra: list[Hit] = []
    skipped: list[Hit] = []
    for hit in hits[len(head):]:
        if len(head) + len(extra) == k:
            break
        if hit.doc_id in seen:
            skipped.append(hit)
        else:
            seen.add(hit.doc_id)
            extra.append(hit)
    chosen = {id(h) for h in head + extra + skipped[: k - len(head) - len(extra)]}
    return [dataclasses.replace(h, rank=r) for r, h in enumerate((h for h in hits if id(h) in chosen), 1)]


def fuse(dense: dict[int, float], bm25: dict[int, float], dense_weight: float) -> dict[int, float]:
    """Convex mix of min-max-normalised scores; a retriever that missed a chunk gives it 0."""
    d, b = _minmax(dense), _minmax(bm25)
    return {r: dense_weight * d.get(r, 0.0) + (1.0 - dense_weight) * b.get(r, 0.0) for r in set(d) | set(b)}


def boost_dates(fused: dict[int, float], dates: dict[int, str | None], hint: DateHint) -> dict[int, float]:
    """Fused scores with THRESHOLDS.date_boost added inside the hint's range and, for "latest"
    questions, up to THRESHOLDS.recency_boost by how new a document is among the candidates."""
    out = dict(fused)
    if hint.since is not None:
        for r in out:
            if in_range(dates.get(r), hint):
                out[r] += THRESHOLDS.date_boost if hint.boost is None else hint.boost
    if hint.latest:
        known = sorted({d for d in dates.values() if d})
        if len(known) > 1:
            place = {d: i / (len(known) - 1) for i, d in enumerate(known)}
            for r in out:
                day = dates.get(r)
                if day:
                    out[r] += THRESHOLDS.recency_boost * place[day]
    return out


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {r: 1.0 for r in scores}
    return {r: (s - lo) / (hi - lo) for r, s in scores.items()}


def drop_near_duplicates(store: Store, order: Sequence[int], k: int) -> tuple[list[int], dict[int, list[int]]]:
    """`order` without hits whose vector is a near-copy of a better one, until k are kept; and for
    each kept hit the near-copies folded into it (syndicated copies of one article, say)."""
    window = list(order[: max(k * 4, 20)])
    copies: dict[int, list[int]] = {}
    if len(window) <= 1:
        return list(order), copies
    ids, vecs = store.vectors(window)
    by_id = dict(zip(ids.tolist(), vecs))
    kept: list[int] = []
    kept_vecs: list[np.ndarray] = []
    for rowid in window:
        vec = by_id.get(rowid)
        if vec is None:
            continue
        if kept_vecs:
            sims = np.stack(kept_vecs) @ vec
            best = int(np.argmax(sims))
            if float(sims[best]) > THRESHOLDS.near_duplicate:
                copies.setdefault(kept[best], []).append(rowid)
                continue
        if len(kept) >= k:
            continue  # only copies of kept hits are still looked for
        kept.append(rowid)
        kept_vecs.append(vec)
    rest = [r for r in window if r not in set(kept) and not any(r in c for c in copies.values())]
    return kept + rest + list(order[len(window):]), copies
