"""SciFact retrieval figures: ingest speed (first run and unchanged re-run, cold processes), warm
search latency, nDCG@10 of dense / BM25 / hybrid and of hybrid reranked by the project's judge at
several depths, a sweep of the fusion settings, `rag --help` time.

    .venv/bin/python bench/bench_retrieval.py --backend openvino
    .venv/bin/python bench/bench_retrieval.py --backend openvino-int8 --query-backend openvino --no-sweep --depths ''
    .venv/bin/python bench/bench_retrieval.py --backend cli --no-sweep --depths 20,30,50
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, ingest_cold, machine_note, run_cold, scifact_dir, table, write_scifact

import rag.retrieve.hybrid as retrieval
from rag.assistant import Assistant
from rag.config import Settings
from rag.eval.metrics import doc_ranking, mean, ndcg_at_k, percentile
from rag.eval.run import TOP_K, load_qa_set
from rag.thresholds import THRESHOLDS

WEIGHTS = [round(0.3 + 0.05 * i, 2) for i in range(13)]  # 0.30 .. 0.90
CANDIDATES = (50, 100, 200, 400)


def make_embedder(backend: str, settings: Settings):  # noqa: ANN201
    from rag.embed.embedder import SentenceTransformerEmbedder, embedder_id

    if backend in ("openvino", "openvino-int8"):
        from rag.embed.backends import make_fast_embedder

        return make_fast_embedder(settings.embedder_path, embedder_id(settings), "openvino", settings.embed_batch_size,
                                  "int8" if backend == "openvino-int8" else "fp32")
    return SentenceTransformerEmbedder(settings.embedder_path, embedder_id(settings), "torch", settings.embed_batch_size)


def sweep(assistant: Assistant, questions: list, docs_of: dict[int, str]) -> list[list]:
    """nDCG@10 of convex fusion for each (candidates, dense weight), plus RRF, from one retrieval per query."""
    indexes = assistant._search_indexes()
    embedder = assistant.embedder
    runs = []
    for q in questions:
        d_ids, d_sc = indexes.vectors.search(embedder.embed_query(q.text), max(CANDIDATES))
        b_ids, b_sc = indexes.keywords.search(q.text, max(CANDIDATES))
        runs.append((q, list(zip(d_ids.tolist(), d_sc.tolist())), list(zip(b_ids.tolist(), b_sc.tolist()))))

    def score(rank_of) -> float:  # noqa: ANN001
        out = []
        for q, dense, bm25 in runs:
            fused = rank_of(dense, bm25)
            order = sorted(fused, key=lambda r: (-fused[r], r))
            out.append(ndcg_at_k(doc_ranking(docs_of[r] for r in order), q.relevant, 10))
        return mean(out) or 0.0

    rows = []
    for cand in CANDIDATES:
        for w in WEIGHTS:
            rows.append([f"convex w={w:.2f}", cand, round(score(
                lambda d, b: retrieval.fuse(dict(d[:cand]), dict(b[:cand]), w)), 4)])
        for k in (10, 60):
            rows.append([f"rrf k={k}", cand, round(score(lambda d, b: _rrf(d[:cand], b[:cand], k)), 4)])
    return rows


def _rrf(dense: list, bm25: list, k: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for ranked in (dense, bm25):
        for rank, (rowid, _) in enumerate(ranked, start=1):
            out[rowid] = out.get(rowid, 0.0) + 1.0 / (k + rank)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="torch", choices=["torch", "openvino", "openvino-int8", "cli"],
                    help="embedding backend of the ingest and of the queries (cli: `rag ingest` as configured)")
    ap.add_argument("--query-backend", help="embed the queries with other backends than the ingest, comma-separated "
                    "(torch, openvino, openvino-int8; the first is timed, the others give nDCG rows; default: the same)")
    ap.add_argument("--workdir", help="keep the files and index here (default: a temporary folder)")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--depths", default="30", help="rerank depths to measure, comma-separated ('' for none)")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    try:
        mapping = write_scifact(work / "docs")
        shutil.rmtree(work / "index", ignore_errors=True)
        first_wall, first = ingest_cold(args.backend, work / "docs", work / "index")
        again_wall, again = ingest_cold(args.backend, work / "docs", work / "index")
        helps = [run_cold([str(ROOT / ".venv/bin/rag"), "--help"])[0] for _ in range(5)]

        settings = Settings.from_env(index_dir=work / "index")
        query_backend, *other_queries = (args.query_backend or args.backend).split(",")
        embedder = None if query_backend == "cli" else make_embedder(query_backend, settings)
        _, questions = load_qa_set(scifact_dir())
        with Assistant(settings, embedder=embedder) as assistant:
            assistant.search("warm up", k=5, rerank=False)
            ids, _ = assistant._open().vectors()
            rows_by_id = assistant._open().chunks_by_rowid(ids.tolist())
            docs_of = {r: mapping[rows_by_id[r][1]] for r in rows_by_id}
            quality, latency = [], {}
            depths = [int(d) for d in args.depths.split(",") if d.strip()]
            runs = [(mode, mode, False, settings.rerank_depth) for mode in ("dense", "bm25", "hybrid")]
            runs += [(f"hybrid + judge (depth {d})", "hybrid", True, d) for d in depths]
            for label, mode, rerank, depth in runs:
                assistant.settings = settings.with_(rerank_depth=depth)
                scores, times = [], []
                for q in questions:
                    t0 = time.perf_counter()
                    if not rerank:  # a judged search costs the same for any k <= depth: time it once
                        assistant.search(q.text, k=5, mode=mode, rerank=rerank)
                        times.append((time.perf_counter() - t0) * 1000)
                        t0 = time.perf_counter()
                    hits = assistant.search(q.text, k=TOP_K, mode=mode, rerank=rerank)
                    if rerank:
                        times.append((time.perf_counter() - t0) * 1000)
                    scores.append(ndcg_at_k(doc_ranking(mapping[h.path] for h in hits), q.relevant, 10))
                quality.append([label, round(mean(scores) or 0.0, 4)])
                latency[label] = times
            assistant.settings = settings
            sweep_rows = [] if args.no_sweep else sweep(assistant, questions, docs_of)
        for other in other_queries:
            with Assistant(settings, embedder=make_embedder(other, settings)) as assistant:
                for mode in ("dense", "hybrid"):
                    scores = [ndcg_at_k(doc_ranking(mapping[h.path] for h in assistant.search(
                        q.text, k=TOP_K, mode=mode, rerank=False)), q.relevant, 10) for q in questions]
                    quality.append([f"{mode} (queries {other})", round(mean(scores) or 0.0, 4)])

        print(f"SciFact: {first['documents']} abstracts, {first['chunks']} chunks; backend {args.backend}"
              f"{f', queries {query_backend}' if query_backend != args.backend else ''}; "
              f"{machine_note()}")
        print(table(["ingest", "wall s", "ingest s", "chunks/s"], [
            ["first run (cold process)", round(first_wall, 1), first["seconds"], round(first["chunks"] / first["seconds"], 1)],
            ["unchanged re-run", round(again_wall, 1), again["seconds"], round(again["chunks"] / again["seconds"], 1)]]))
        print()
        print(table(["search (warm, in-process)", "p50 ms", "p95 ms"], [
            [f"{mode} (k=5)", round(percentile(t, 50), 1),
             round(percentile(t, 95), 1)] for mode, t in latency.items()]))
        print()
        print(table([f"nDCG@10 ({len(questions)} test queries, k={TOP_K})", "value"],
                    quality + [["(hybrid: dense_weight",
                                f"{settings.dense_weight}, candidates {THRESHOLDS.candidates})"]]))
        print(f"\n`rag --help`: median {statistics.median(helps):.2f} s, min {min(helps):.2f} s over 5 cold runs")
        if sweep_rows:
            best = max(sweep_rows, key=lambda r: r[2])
            print("\nfusion sweep (no near-duplicate filter), nDCG@10; best:", best)
            top = sorted(sweep_rows, key=lambda r: -r[2])[:12]
            print(table(["fusion", "candidates", "nDCG@10"], top))
            print(table(["fusion (100 candidates)", "candidates", "nDCG@10"], [r for r in sweep_rows if r[1] == 100]))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
