"""RealTime QA retrieval by question month, with the dated-question boost swept (and the judge).

    .venv/bin/python bench/bench_news_dates.py --tune 2025-01,2025-02 --report 2025-03 [--workdir DIR]

Indexes the whole RealTime QA corpus (1,915 news articles and gold paragraphs, each with its
`Date:` line, as `rag eval` writes them) once, then asks every question of the months given, as of
its own date, with THRESHOLDS.asked_on_days / asked_on_boost set to each value of the sweep:
document-level recall@1, recall@3 (about what the answer's evidence holds), MRR@10 of the gold
evidence paragraph. The setting is chosen on the --tune months (the judge's training months) and
reported on the --report month, which nothing was tuned or trained on. `--rerank` adds rows with the
judge reordering the fused top hits (RAG_RERANK_DEPTH, RAG_RERANK_WEIGHT).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _util import machine_note, table, thresholds_set, workdir_or_temporary

from rag.assistant import Assistant
from rag.config import Settings, eval_data_dir
from rag.eval import metrics as m
from rag.eval.run import in_month, load_qa_set, write_corpus

SWEEP = ((7, 0.0), (7, 1.0))


def _score(assistant: Assistant, questions, mapping, rerank: bool) -> dict[str, float]:  # noqa: ANN001
    rows: dict[str, list[float]] = {"R@1": [], "R@3": [], "MRR@10": []}
    for q in questions:
        hits = assistant.search(q.text, k=10, as_of=q.date, rerank=rerank)
        ranking = m.doc_ranking(mapping.get(h.path, h.path) for h in hits)
        rows["R@1"].append(m.recall_at_k(ranking, q.relevant, 1))
        rows["R@3"].append(m.recall_at_k(ranking, q.relevant, 3))
        rows["MRR@10"].append(m.mrr_at_k(ranking, q.relevant, 10))
    return {k: m.mean(v) or 0.0 for k, v in rows.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tune", default="2025-01,2025-02")
    ap.add_argument("--report", default="2025-03")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the index here (reused when unchanged)")
    ap.add_argument("--rerank", action="store_true", help="also rows with the judge reranking")
    args = ap.parse_args()
    data = eval_data_dir() / "realtimeqa"
    corpus, questions = load_qa_set(data)
    months = {"tune": args.tune.split(","), "report": args.report.split(",")}
    sets = {name: [q for month in ms for q in in_month(questions, month) if q.relevant] for name, ms in months.items()}
    with workdir_or_temporary(args.workdir, "bench-news-") as root:
        mapping = write_corpus(root / "docs", [(r.id, r.title, r.text, r.date) for r in corpus])
        with Assistant(Settings.from_env(index_dir=root / "index")) as assistant:
            t0 = time.perf_counter()
            report = assistant.ingest([root / "docs"])
            print(f"RealTime QA: {report.documents} documents, {report.chunks} chunks "
                  f"({time.perf_counter() - t0:.0f} s); tune {args.tune} ({len(sets['tune'])} questions), "
                  f"report {args.report} ({len(sets['report'])}); {machine_note()}")
            out = []
            for days, boost in SWEEP:
                for rerank in (False, True) if args.rerank else (False,):
                    t1 = time.perf_counter()
                    with thresholds_set(asked_on_days=days, asked_on_boost=boost):
                        got = {name: _score(assistant, qs, mapping, rerank) for name, qs in sets.items()}
                    per_q = (time.perf_counter() - t1) * 1000 / max(1, sum(len(qs) for qs in sets.values()))
                    out.append([f"{days} days, +{boost}" + (" + judge" if rerank else ""),
                                *[f"{got[n][k]:.3f}" for n in ("tune", "report") for k in ("R@1", "R@3", "MRR@10")],
                                f"{per_q:.0f}"])
            print(table(["asked-on window, boost", "tune R@1", "tune R@3", "tune MRR@10", "report R@1",
                         "report R@3", "report MRR@10", "ms/question"], out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
