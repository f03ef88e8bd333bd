"""Qdrant at scale: ingest time, dense / BM25 / hybrid query p50/p95, recall@10 against exact
search, memory and disk at 100k and 1M chunks, with the point layout rag's Qdrant adapter writes.

The engine is timed in-process with `qdrant-edge-py` (the Qdrant engine as a library: the same
segments, HNSW, sparse index and payload storage a server runs, without the HTTP/gRPC hop), since
no Qdrant server runs here. Each point is what `rag.store.qdrant` writes: a named dense vector
"dense" (384-d, cosine, HNSW with Qdrant's defaults), a named sparse vector "bm25" (IDF modifier)
from `rag.store.sparse.document_vectors`, payload {doc_id, chunk_id, day, gen, cat}, and the
payload indexes a server gets (doc_id, day, gen). Queries are the adapter's: dense and BM25
(`rag.store.sparse.query_vector`) with 100 candidates each; "hybrid" is both in one batched
request fused in the client (min-max, 0.45 dense, as `rag.retrieve.hybrid.fuse`), beside the
engine's own prefetch + RRF (k=60).
The real adapter path (`rag.store.qdrant.QdrantIndex.candidates` over qdrant-client's local
mode, `qdrant:PATH`) is timed at a smaller size (--local-size) to show what local mode costs.

Vectors: real MiniLM embeddings of passages of the shared evaluation sets, extended with
perturbed copies exactly as bench/bench_search_scale.py does (and cached by it). BM25 texts:
synthetic 80-token chunks from the real (stemmed) word distribution of the same corpora.
Queries: real questions (SQuAD v2, SciFact), the text for BM25 and its embedding for dense.

    .venv/bin/pip install qdrant-edge-py
    flock /tmp/bench.lock .venv/bin/python bench/bench_qdrant_scale.py --sizes 100000,1000000 --local-size 20000
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _util import machine_note, table
from bench_search_scale import grow, questions, real_vectors, unigram

from rag.config import eval_data_dir
from rag.eval.metrics import percentile
from rag.retrieve.hybrid import fuse
from rag.store.sparse import document_vectors, query_vector

DENSE, SPARSE = "dense", "bm25"
CANDIDATES = 100  # what retrieval asks of each side
DENSE_WEIGHT = 0.45  # the default fusion weight (RAG_DENSE_WEIGHT)
BATCH = 2_000  # points per upsert call
CATALOG = f"{1764800000.0:.6f}"  # the `cat` payload: a catalog's creation stamp


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Current resident memory of this process, MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def disk_bytes(folder: Path) -> dict[str, int]:
    """Allocated bytes (not apparent sizes: Qdrant preallocates sparse files) by component."""
    parts: dict[str, int] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).parts
        name = next((p for p in rel if p.startswith(("vector_storage", "vector_index", "payload", "sparse"))),
                    rel[0] if rel[0] == "wal" else "other")
        parts[name] = parts.get(name, 0) + path.stat().st_blocks * 512
    return dict(sorted(parts.items()))


def payload(i: int) -> dict[str, Any]:
    """The adapter's payload for chunk i: ~2.4 chunks a document, 3 documents in 4 dated."""
    doc = i * 5 // 12
    out: dict[str, Any] = {"doc_id": f"doc-{doc:08d}", "chunk_id": f"doc-{doc:08d}:{i - (doc * 12 + 4) // 5}",
                           "gen": 1, "cat": CATALOG}
    if doc % 4:
        out["day"] = 20200101 + (doc % 6) * 10000 + (doc % 12) * 100 + doc % 28
    return out


def text_batches(words: list[str], probs: np.ndarray, n: int, length: int, batch: int) -> Iterator[list[str]]:
    """Synthetic chunk texts drawn from the real word distribution, `batch` at a time."""
    rng = np.random.default_rng(n)
    for lo in range(0, n, batch):
        block = rng.choice(len(words), size=(min(batch, n - lo), length), p=probs)
        yield [" ".join(words[j] for j in row) for row in block]


# -- the engine (qdrant-edge-py) ----------------------------------------------------------------
def edge_config() -> Any:
    import qdrant_edge as q

    return q.EdgeConfig(vectors={DENSE: q.EdgeVectorParams(size=384, distance=q.Distance.Cosine)},
                        sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)})


def edge_ingest(path: Path, vectors: np.ndarray, texts: Iterator[list[str]]) -> tuple[Any, dict]:
    """Create the shard, upsert every point in batches, then build the indexes (optimize)."""
    import qdrant_edge as q

    shutil.rmtree(path, ignore_errors=True)
    shard = q.EdgeShard.create(str(path), edge_config())
    for name, schema in (("doc_id", q.PayloadSchemaType.Keyword), ("day", q.PayloadSchemaType.Integer),
                         ("gen", q.PayloadSchemaType.Integer)):
        shard.update(q.UpdateOperation.create_field_index(name, schema))
    encode = prep = upsert = 0.0
    lo = 0
    for block in texts:
        t0 = time.perf_counter()
        sparse = document_vectors(block)
        t1 = time.perf_counter()
        points = [q.Point(lo + j + 1, {DENSE: vectors[lo + j].tolist(), SPARSE: q.SparseVector(idx, val)},
                          payload(lo + j)) for j, (idx, val) in enumerate(sparse)]
        t2 = time.perf_counter()
        shard.update(q.UpdateOperation.upsert_points(points))
        t3 = time.perf_counter()
        encode, prep, upsert = encode + t1 - t0, prep + t2 - t1, upsert + t3 - t2
        lo += len(block)
    t0 = time.perf_counter()
    shard.flush()
    shard.optimize()
    optimize = time.perf_counter() - t0
    info = shard.info()
    return shard, {"bm25_encode_s": round(encode, 1), "point_build_s": round(prep, 1), "upsert_s": round(upsert, 1),
                   "optimize_s": round(optimize, 1), "segments": info.segments_count,
                   "indexed_vectors": info.indexed_vectors_count, "points": info.points_count}


def edge_requests(vec: np.ndarray, sparse: tuple[list[int], list[float]]) -> tuple[Any, Any]:
    import qdrant_edge as q

    dense = q.QueryRequest(limit=CANDIDATES, query=q.Query.Nearest(vec.tolist(), using=DENSE),
                           with_payload=False, with_vector=False)
    bm25 = q.QueryRequest(limit=CANDIDATES, query=q.Query.Nearest(q.SparseVector(*sparse), using=SPARSE),
                          with_payload=False, with_vector=False)
    return dense, bm25


def edge_runs(shard: Any) -> dict[str, Callable[[np.ndarray, str], list[int]]]:
    """name -> run(query vector, query text) giving ranked ids, each as the adapter would ask."""
    import qdrant_edge as q

    def dense(vec: np.ndarray, text: str) -> list[int]:
        return [int(p.id) for p in shard.query(edge_requests(vec, query_vector(text))[0])]

    def bm25(vec: np.ndarray, text: str) -> list[int]:
        return [int(p.id) for p in shard.query(edge_requests(vec, query_vector(text))[1]) if p.score > 0]

    def hybrid_client(vec: np.ndarray, text: str) -> list[int]:
        d, b = shard.query_batch(q.QueryBatchRequest(list(edge_requests(vec, query_vector(text)))))
        fused = fuse({int(p.id): p.score for p in d}, {int(p.id): p.score for p in b if p.score > 0}, DENSE_WEIGHT)
        return sorted(fused, key=fused.__getitem__, reverse=True)[:10]

    def hybrid_rrf(vec: np.ndarray, text: str) -> list[int]:
        d, b = edge_requests(vec, query_vector(text))
        request = q.QueryRequest(limit=10, query=q.Fusion.Rrf(k=60), with_payload=False, with_vector=False,
                                 prefetches=[q.Prefetch(limit=CANDIDATES, query=d.query),
                                             q.Prefetch(limit=CANDIDATES, query=b.query)])
        return [int(p.id) for p in shard.query(request)]

    return {"dense": dense, "bm25": bm25, "hybrid (batch + client fusion)": hybrid_client,
            "hybrid (engine RRF)": hybrid_rrf}


# -- timing -------------------------------------------------------------------------------------
def exact_top(vectors: np.ndarray, qvecs: np.ndarray, k: int = 10) -> np.ndarray:
    """Ids (1-based, as the points') of the exact top k by inner product (unit vectors: cosine)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, top = index.search(qvecs, k)
    return top + 1


def time_runs(runs: dict[str, Callable], qvecs: np.ndarray, qtexts: list[str], truth: np.ndarray) -> dict[str, dict]:
    """p50/p95 ms of each run over the queries (one warm-up each); recall@10 of dense vs exact."""
    out = {}
    for name, run in runs.items():
        run(qvecs[0], qtexts[0])
        lat, hits = [], []
        for vec, text in zip(qvecs, qtexts):
            t0 = time.perf_counter()
            hits.append(run(vec, text))
            lat.append((time.perf_counter() - t0) * 1000)
        row = {"p50_ms": round(percentile(lat, 50), 2), "p95_ms": round(percentile(lat, 95), 2)}
        if name == "dense":
            row["recall@10"] = round(float(np.mean([len(set(h[:10]) & set(t.tolist())) / 10
                                                    for h, t in zip(hits, truth)])), 4)
        out[name] = row
    return out


_SERVE = """
import json, sys, time
import qdrant_edge as q
def rss():
    with open("/proc/self/status") as f:
        return {k: int(v.split()[0]) // 1024 for k, v in (l.split(":", 1) for l in f) if k in ("VmRSS", "VmHWM")}
base = rss()["VmRSS"]
t0 = time.perf_counter()
shard = q.EdgeShard.load(sys.argv[1])
load_s = time.perf_counter() - t0
with open(sys.argv[2]) as f:
    queries = json.load(f)
for v in queries["dense"]:
    shard.query(q.QueryRequest(limit=100, query=q.Query.Nearest(v, using="dense")))
for idx, val in (s for s in queries["sparse"] if s[0]):
    shard.query(q.QueryRequest(limit=100, query=q.Query.Nearest(q.SparseVector(idx, val), using="bm25")))
now = rss()
print(json.dumps({"load_s": round(load_s, 2), "serve_rss_mb": now["VmRSS"], "serve_peak_mb": now["VmHWM"],
                  "serve_base_mb": base}))
"""


def serving_memory(path: Path, qvecs: np.ndarray, qtexts: list[str]) -> dict:
    """RSS of a fresh process that loads the shard and answers the dense and the BM25 queries;
    serve_base_mb is the same process before loading (python + qdrant_edge)."""
    qfile = path.parent / f"{path.name}-queries.json"
    qfile.write_text(json.dumps({"dense": qvecs.tolist(), "sparse": [query_vector(t) for t in qtexts]}))
    out = subprocess.run([sys.executable, "-c", _SERVE, str(path), str(qfile)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_edge(n: int, base: np.ndarray, qvecs: np.ndarray, qtexts: list[str], words: list[str],
               probs: np.ndarray, workdir: Path, length: int) -> dict:
    vectors = grow(base, n)
    truth = exact_top(vectors, qvecs)
    rss0 = rss_now_mb()
    path = workdir / f"edge-{n}"
    t0 = time.perf_counter()
    shard, ingest = edge_ingest(path, vectors, text_batches(words, probs, n, length, BATCH))
    total = time.perf_counter() - t0
    del vectors
    gc.collect()
    row: dict[str, Any] = {"engine": "qdrant-edge-py", "n": n, **ingest, "ingest_s": round(total, 1),
                           "points_per_s": round(n / total), "upsert_points_per_s": round(n / ingest["upsert_s"])}
    row["queries"] = time_runs(edge_runs(shard), qvecs, qtexts, truth)
    row["rss_after_mb"] = round(rss_now_mb())
    row["rss_delta_mb"] = round(rss_now_mb() - rss0)
    shard.close()
    del shard
    gc.collect()
    row.update(serving_memory(path, qvecs, qtexts))
    row["disk_mb"] = {k: round(v / 2**20, 1) for k, v in disk_bytes(path).items()}
    row["peak_rss_mb"] = round(peak_rss_mb())
    return row


# -- the adapter over qdrant-client local mode ---------------------------------------------------
class _Catalog:
    """Just enough of `rag.store.sqlite.Store` for QdrantIndex's constructor and `candidates`."""

    def __init__(self, folder: Path) -> None:
        self.index_dir = folder
        self.manifest = type("Manifest", (), {"created": float(CATALOG), "dim": 384})()

    def dates_by_rowid(self, rowids: list[int]) -> dict[int, str | None]:
        return {r: None for r in rowids}


def local_ingest(index: Any, vectors: np.ndarray, texts: Iterator[list[str]]) -> float:
    """Upsert every point through qdrant-client as QdrantIndex._upsert does (same models, same
    256-point batches, wait=True); seconds."""
    from qdrant_client import models

    t0 = time.perf_counter()
    lo = 0
    for block in texts:
        sparse = document_vectors(block)
        points = [models.PointStruct(id=lo + j + 1, payload=payload(lo + j), vector={
            DENSE: vectors[lo + j].tolist(), SPARSE: models.SparseVector(indices=idx, values=val)})
            for j, (idx, val) in enumerate(sparse)]
        index._client.upsert(index.collection, points=points, wait=True)
        lo += len(block)
    return time.perf_counter() - t0


def bench_local(n: int, base: np.ndarray, qvecs: np.ndarray, qtexts: list[str], words: list[str],
                probs: np.ndarray, workdir: Path, length: int) -> dict:
    from qdrant_client import QdrantClient

    from rag.store.backend import ChunkFilter
    from rag.store.qdrant import UPSERT_BATCH, QdrantIndex

    vectors = grow(base, n)
    truth = exact_top(vectors, qvecs)
    folder = workdir / f"local-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rss0 = rss_now_mb()
    catalog = _Catalog(folder)
    uri = f"qdrant:{folder / 'qdrant'}"
    index = QdrantIndex(QdrantClient(path=str(folder / "qdrant")), uri, "briefing_rag", catalog)  # type: ignore[arg-type]
    index._ensure_collection(384)
    total = local_ingest(index, vectors, text_batches(words, probs, n, length, UPSERT_BATCH))
    del vectors
    where = ChunkFilter()

    def ranked(scores: dict[int, float]) -> list[int]:
        return sorted(scores, key=scores.__getitem__, reverse=True)

    runs = {"dense": lambda v, t: ranked(index.candidates(catalog, v, None, CANDIDATES, where)[0]),
            "bm25": lambda v, t: ranked(index.candidates(catalog, None, t, CANDIDATES, where)[1]),
            "hybrid (batch + client fusion)": lambda v, t: ranked(fuse(*index.candidates(
                catalog, v, t, CANDIDATES, where), DENSE_WEIGHT))[:10]}
    row: dict[str, Any] = {"engine": "qdrant-client local mode (QdrantIndex)", "n": n, "ingest_s": round(total, 1),
                           "points_per_s": round(n / total)}
    row["queries"] = time_runs(runs, qvecs, qtexts, truth)
    row["rss_delta_mb"] = round(rss_now_mb() - rss0)
    index.close()
    row["disk_mb"] = {"total": round(sum(disk_bytes(folder).values()) / 2**20, 1)}
    row["peak_rss_mb"] = round(peak_rss_mb())
    return row


def print_table(rows: list[dict]) -> None:
    lines = []
    for r in rows:
        qs = r["queries"]
        cells = [f"{qs[k]['p50_ms']} / {qs[k]['p95_ms']}" if k in qs else None
                 for k in ("dense", "bm25", "hybrid (batch + client fusion)", "hybrid (engine RRF)")]
        lines.append([r["engine"], r["n"], r["ingest_s"], r.get("optimize_s"), r["points_per_s"], *cells,
                      qs["dense"].get("recall@10"), r.get("serve_rss_mb"), round(sum(r["disk_mb"].values()))])
    print(table(["engine", "n", "ingest s", "of which optimize s", "points/s", "dense p50/p95 ms",
                 "bm25 p50/p95", "hybrid client p50/p95", "hybrid RRF p50/p95", "recall@10", "serve RSS MB",
                 "disk MB"], lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts for the engine")
    ap.add_argument("--local-size", type=int, default=20_000, help="chunks for the local-mode adapter run (0: skip)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--local-queries", type=int, default=100, help="queries for the (slow) local-mode run")
    ap.add_argument("--real", type=int, default=100_000, help="real passage vectors (bench_search_scale's cache)")
    ap.add_argument("--bm25-tokens", type=int, default=80, help="tokens per synthetic BM25 chunk")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-qdrant-scale"))
    args = ap.parse_args()
    print(f"bench_qdrant_scale: {machine_note()}", flush=True)
    data = eval_data_dir()
    base, qvecs = real_vectors(data, args.real)
    words, probs = unigram(data)
    qtexts = questions(data)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.local_size:
        m = args.local_queries
        rows.append(bench_local(args.local_size, base, qvecs[:m], qtexts[:m], words, probs, args.workdir,
                                args.bm25_tokens))
        print(json.dumps(rows[-1]), flush=True)
    for n in (int(s) for s in args.sizes.split(",") if s):
        rows.append(bench_edge(n, base, qvecs[:args.queries], qtexts[:args.queries], words, probs, args.workdir,
                               args.bm25_tokens))
        print(json.dumps(rows[-1]), flush=True)
        gc.collect()
    print_table(rows)
    print(f"peak RSS {peak_rss_mb():.0f} MB; {machine_note()}")


if __name__ == "__main__":
    main()
