"""SciFact through both stores on the same chunks: nDCG@10 of dense / BM25 / hybrid over the local
store (FAISS + bm25s) and over Qdrant (`--store qdrant:PATH`, local mode, or a server URL), the
Qdrant engine's own fusions (prefetch + DBSF / RRF) beside the client's min-max fusion, warm search
latency, and the time to fill the collection from the catalog.

    .venv/bin/python bench/bench_qdrant.py --workdir /tmp/bench-qdrant
    .venv/bin/python bench/bench_qdrant.py --workdir /tmp/bench-qdrant --store http://localhost:6333
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _util import ingest_cold, machine_note, scifact_dir, table, write_scifact

import rag.retrieve.hybrid as retrieval
from rag.assistant import Assistant
from rag.config import Settings
from rag.eval.metrics import doc_ranking, mean, ndcg_at_k, percentile
from rag.eval.run import TOP_K, load_qa_set
from rag.store.backend import ChunkFilter
from rag.store.sparse import AVG_TERMS, query_vector, terms
from rag.thresholds import THRESHOLDS


def _ndcg(order: list[int], docs_of: dict[int, str], relevant) -> float:  # noqa: ANN001
    return ndcg_at_k(doc_ranking(docs_of[r] for r in order if r in docs_of), relevant, 10)


def engine_fusions(assistant: Assistant, questions: list, docs_of: dict[int, str]) -> list[list]:
    """nDCG@10 of Qdrant's prefetch + DBSF / RRF, and of the client's min-max mix of the same two
    candidate lists (no near-duplicate filter in any row)."""
    from qdrant_client import models

    index = assistant._search_indexes()
    store, n = assistant._open(), THRESHOLDS.candidates
    rows, scores = [], {"engine DBSF": [], "engine RRF": [], "client min-max (0.45)": []}
    times: dict[str, list[float]] = {k: [] for k in scores}
    for q in questions:
        vector = assistant.embedder.embed_query(q.text).tolist()
        indices, values = query_vector(q.text)
        prefetch = [models.Prefetch(query=vector, using="dense", limit=n)]
        if indices:
            prefetch.append(models.Prefetch(query=models.SparseVector(indices=indices, values=values), using="bm25",
                                            limit=n))
        for label, fusion in (("engine DBSF", models.Fusion.DBSF), ("engine RRF", models.Fusion.RRF)):
            t0 = time.perf_counter()
            found = index._client.query_points(index.collection, prefetch=prefetch,
                                               query=models.FusionQuery(fusion=fusion), limit=TOP_K).points
            times[label].append((time.perf_counter() - t0) * 1000)
            scores[label].append(_ndcg([int(p.id) for p in found], docs_of, q.relevant))
        t0 = time.perf_counter()
        dense, bm25 = index.candidates(store, assistant.embedder.embed_query(q.text), q.text, n, ChunkFilter())
        fused = retrieval.fuse(dense, bm25, assistant.settings.dense_weight)
        times["client min-max (0.45)"].append((time.perf_counter() - t0) * 1000)
        scores["client min-max (0.45)"].append(_ndcg(sorted(fused, key=lambda r: (-fused[r], r)), docs_of,
                                                     q.relevant))
    for label in scores:
        rows.append([label, round(mean(scores[label]) or 0.0, 4), round(percentile(times[label], 50), 1),
                     round(percentile(times[label], 95), 1)])
    return rows


def measure(assistant: Assistant, questions: list, mapping: dict[str, str]) -> list[list]:
    rows = []
    for mode in ("dense", "bm25", "hybrid"):
        scores, times = [], []
        for q in questions:
            t0 = time.perf_counter()
            hits = assistant.search(q.text, k=TOP_K, mode=mode, rerank=False)
            times.append((time.perf_counter() - t0) * 1000)
            scores.append(ndcg_at_k(doc_ranking(mapping[h.path] for h in hits), q.relevant, 10))
        rows.append([mode, round(mean(scores) or 0.0, 4), round(percentile(times, 50), 1),
                     round(percentile(times, 95), 1)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="keep the files, the index and the Qdrant folder here (default: temporary)")
    ap.add_argument("--store", help="the Qdrant store to compare (default: qdrant:WORKDIR/qdrant, local mode)")
    ap.add_argument("--fresh", action="store_true", help="empty the Qdrant collection first (time the fill)")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-qdrant-"))
    store = args.store or f"qdrant:{work / 'qdrant'}"
    if args.fresh and store.startswith("qdrant:"):
        shutil.rmtree(store[len("qdrant:"):], ignore_errors=True)
        (work / "index" / "qdrant.json").unlink(missing_ok=True)
    mapping = write_scifact(work / "docs")
    wall, report = ingest_cold("cli", work / "docs", work / "index")
    print(f"SciFact: {report['documents']} abstracts, {report['chunks']} chunks (local ingest {wall:.1f} s, "
          f"{report['added']} added); {machine_note()}", file=sys.stderr)
    _, questions = load_qa_set(scifact_dir())
    results = {}
    for uri in ("local", store):
        settings = Settings.from_env(index_dir=work / "index", store=uri)
        with Assistant(settings) as assistant:
            t0 = time.perf_counter()
            index = assistant._search_indexes()  # Qdrant: reconciles, i.e. fills the collection from SQLite
            fill = time.perf_counter() - t0
            assistant.search("warm up", k=5)
            store_ = assistant._open()
            ids, _ = store_.vectors()
            rows = store_.chunks_by_rowid(ids.tolist())
            docs_of = {r: mapping[rows[r][1]] for r in rows}
            quality = measure(assistant, questions, mapping)
            fusions = engine_fusions(assistant, questions, docs_of) if uri != "local" else []
            texts = store_.keyword_texts()[1]
            results[uri] = (quality, fusions, fill, index.stats())
    mean_terms = sum(len(t) for t in terms(texts)) / max(1, len(texts))
    print(f"SciFact, {len(questions)} test queries, nDCG@10 (k={TOP_K}, candidates {THRESHOLDS.candidates}); "
          f"{machine_note()}")
    for uri, (quality, fusions, fill, stats) in results.items():
        print(f"\nstore {uri}: {stats['chunks']} chunks" + (f", filled from the catalog in {fill:.1f} s"
                                                          if uri != "local" else ""))
        print(table(["Assistant.search", "nDCG@10", "p50 ms", "p95 ms"], quality))
        if fusions:
            print(table(["fusion of the same candidates (no near-copy filter)", "nDCG@10", "p50 ms", "p95 ms"],
                        fusions))
    local_h, qdrant_h = results["local"][0][2][1], results[store][0][2][1]
    print(f"\nhybrid: local {local_h} vs Qdrant {qdrant_h} (difference {qdrant_h - local_h:+.4f}); "
          f"BM25 terms per chunk: {mean_terms:.1f} (sparse vectors assume {AVG_TERMS:.0f})")


if __name__ == "__main__":
    main()
