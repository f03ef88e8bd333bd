"""Search at scale: FAISS (flat vs IVF) and BM25 query latency, recall@10 and memory at 100k / 1M chunks.

Vectors: real MiniLM embeddings of passages from the shared evaluation sets (made once with the
fast embedder and cached under ~/.cache/briefing-rag/bench/), extended past their count with
perturbed copies (each a real vector plus Gaussian noise, cosine ~0.8 to its parent) so the
larger sets keep a real-looking neighbourhood structure. Queries are real questions (SQuAD v2,
SciFact). Recall@10 is measured against exact search over the same vectors.
BM25: synthetic chunks drawn from the real (stemmed, stop-word-free) unigram distribution of the
same corpora, queried with the real questions through KeywordIndex.search.

    .venv/bin/python bench/bench_search_scale.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings, eval_data_dir  # noqa: E402
from rag.eval.metrics import percentile  # noqa: E402
from rag.store.indexes import KeywordIndex, VectorIndex, ivf_settings  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "briefing-rag" / "bench"


def rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def passages(data: Path, words: int = 40, step: int = 30) -> list[str]:
    """Overlapping 40-word windows over every document of the shared evaluation sets."""
    texts: list[str] = []

    def windows(text: str) -> None:
        w = text.split()
        texts.extend(" ".join(w[i:i + words]) for i in range(0, max(1, len(w) - 10), step))

    for name in ("scifact/corpus.jsonl", "squad-v2/corpus.jsonl", "realtimeqa/corpus.jsonl"):
        for line in open(data / name, encoding="utf-8"):
            row = json.loads(line)
            windows(f"{row.get('title') or ''} {row['text']}")
    for name in ("multinews/summaries.jsonl", "qmsum/summaries.jsonl"):
        for line in open(data / name, encoding="utf-8"):
            windows(json.loads(line)["document"])
    return list(dict.fromkeys(texts))


def questions(data: Path) -> list[str]:
    squad = [json.loads(line)["question"] for line in open(data / "squad-v2/questions.jsonl", encoding="utf-8")]
    scifact = [json.loads(line)["question"] for line in open(data / "scifact/questions.jsonl", encoding="utf-8")]
    return squad[::6][:1700] + scifact


def real_vectors(data: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n passage vectors, query vectors), embedded once and cached."""
    vec_file, q_file = CACHE / f"real_{n}.npy", CACHE / "queries.npy"
    if vec_file.is_file() and q_file.is_file():
        return np.load(vec_file).astype(np.float32), np.load(q_file)
    from rag.embed.backends import make_fast_embedder

    texts = passages(data)
    rng = np.random.default_rng(0)
    chosen = [texts[i] for i in rng.permutation(len(texts))[:n]]
    embedder = make_fast_embedder(Settings().embedder_path, "bench")
    t0 = time.perf_counter()
    queries = embedder.embed(questions(data))
    out = np.zeros((len(chosen), embedder.dim), dtype=np.float16)
    for lo in range(0, len(chosen), 5000):
        out[lo:lo + 5000] = embedder.embed(chosen[lo:lo + 5000])
        print(f"  embedded {min(lo + 5000, len(chosen))}/{len(chosen)} ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(vec_file, out)
    np.save(q_file, queries)
    return out.astype(np.float32), queries


def grow(base: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """`base` extended to n rows with perturbed copies of its rows (unit length)."""
    if n <= len(base):
        return np.ascontiguousarray(base[:n])
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    sigma = 0.75 / np.sqrt(base.shape[1])
    for lo in range(len(base), n, 100_000):
        hi = min(n, lo + 100_000)
        rows = base[rng.integers(0, len(base), hi - lo)] + rng.normal(0, sigma, (hi - lo, base.shape[1]))
        out[lo:hi] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def time_queries(run, queries: np.ndarray | list[str]) -> tuple[list[float], list[np.ndarray]]:
    latencies, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        ids, _ = run(q)
        latencies.append((time.perf_counter() - t0) * 1000)
        results.append(ids)
    return latencies, results


def bench_vectors(vectors: np.ndarray, queries: np.ndarray, k: int) -> list[dict]:
    import faiss

    n = len(vectors)
    ids = np.arange(1, n + 1, dtype=np.int64)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    rows = []
    for kind, limit in (("flat", n), ("ivf", 0)):
        gc.collect()
        t0 = time.perf_counter()
        index = VectorIndex.build(ids, vectors, vectors.shape[1], flat_limit=limit)
        build = time.perf_counter() - t0
        size_mb = len(__import__("faiss").serialize_index(index.index)) / 2**20
        index.search(queries[0], k)
        lat, res = time_queries(lambda q, index=index: index.search(q, k), queries)
        recall = np.mean([len(set((r[:10] - 1).tolist()) & set(t.tolist())) / 10 for r, t in zip(res, truth)])
        rows.append({"n": n, "index": kind, **({k2: v for k2, v in index.describe().items() if k2 in ("nlist", "nprobe")}),
                     "build_s": round(build, 1), "index_mb": round(size_mb), "p50_ms": round(percentile(lat, 50), 2),
                     "p95_ms": round(percentile(lat, 95), 2), "recall@10": round(float(recall), 4)})
        print("  " + json.dumps(rows[-1]), file=sys.stderr)
        del index
    return rows


def unigram(data: Path) -> tuple[list[str], np.ndarray]:
    """Stemmed, stop-word-free vocabulary of the shared corpora and its frequencies."""
    import bm25s
    import Stemmer

    texts = passages(data)[:60_000]
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False)
    counts = np.bincount(np.concatenate([np.asarray(t, dtype=np.int64) for t in tokens.ids]),
                         minlength=len(tokens.vocab))
    words = [None] * len(tokens.vocab)
    for word, i in tokens.vocab.items():
        words[i] = word
    return words, counts / counts.sum()


def bench_bm25(n: int, words: list[str], probs: np.ndarray, queries: list[str], k: int, length: int) -> dict:
    import bm25s

    rng = np.random.default_rng(n)
    gc.collect()
    t0 = time.perf_counter()
    vocab = {w: i for i, w in enumerate(words)}
    docs = []
    for lo in range(0, n, 100_000):
        block = rng.choice(len(words), size=(min(100_000, n - lo), length), p=probs)
        docs += block.tolist()
    made = time.perf_counter() - t0
    text_build = None
    if n <= 200_000:  # the real path (tokenise + stem + index text) is timed at the smaller sizes
        texts = [" ".join(words[i] for i in doc) for doc in docs]
        t0 = time.perf_counter()
        KeywordIndex.build(np.arange(n, dtype=np.int64), texts)
        text_build = round(time.perf_counter() - t0, 1)
        del texts
    retriever = bm25s.BM25()
    t0 = time.perf_counter()
    retriever.index(bm25s.tokenization.Tokenized(ids=docs, vocab=vocab), show_progress=False)
    build = time.perf_counter() - t0
    del docs
    gc.collect()
    index = KeywordIndex(retriever, np.arange(1, n + 1, dtype=np.int64))
    index.search(queries[0], k)
    lat, _ = time_queries(lambda q: index.search(q, k), queries)
    row = {"n": n, "index": "bm25s", "tokens_per_chunk": length, "build_s": round(build, 1),
           "build_from_text_s": text_build, "corpus_gen_s": round(made, 1), "p50_ms": round(percentile(lat, 50), 2),
           "p95_ms": round(percentile(lat, 95), 2), "peak_rss_mb": round(rss_mb())}
    print("  " + json.dumps(row), file=sys.stderr)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts")
    ap.add_argument("--real", type=int, default=100_000, help="real passage vectors to embed/cache (default 100k)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("-k", type=int, default=100, help="hits per query (retrieval asks for 100 candidates)")
    ap.add_argument("--bm25-tokens", type=int, default=80, help="tokens per synthetic BM25 chunk")
    ap.add_argument("--skip", default="", help="'vectors' or 'bm25' to skip that part")
    args = ap.parse_args()
    data = eval_data_dir()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict] = []
    if "vectors" not in args.skip:
        base, qvecs = real_vectors(data, args.real)
        qvecs = qvecs[: args.queries]
        for n in sizes:
            print(f"vectors n={n} (nlist/nprobe for IVF: {ivf_settings(n)})", file=sys.stderr)
            rows += bench_vectors(grow(base, n), qvecs, args.k)
            gc.collect()
        del base
    if "bm25" not in args.skip:
        words, probs = unigram(data)
        qtexts = questions(data)[: args.queries]
        for n in sizes:
            print(f"bm25 n={n}", file=sys.stderr)
            rows.append(bench_bm25(n, words, probs, qtexts, args.k, args.bm25_tokens))
    print(f"{'n':>9} {'index':<6} {'build s':>8} {'size MB':>8} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>10}  settings")
    for r in rows:
        extra = f"nlist={r['nlist']} nprobe={r['nprobe']}" if "nlist" in r else (
            f"{r['tokens_per_chunk']} tokens/chunk, build from text {r['build_from_text_s'] or '-'} s, "
            f"peak RSS {r['peak_rss_mb']} MB" if r["index"] == "bm25s" else "")
        print(f"{r['n']:>9} {r['index']:<6} {r['build_s']:>8} {r.get('index_mb', '-'):>8} {r['p50_ms']:>8} "
              f"{r['p95_ms']:>8} {r.get('recall@10', '-'):>10}  {extra}")
    print(f"peak RSS {rss_mb():.0f} MB; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
