"""Plain-text tables of `rag eval` results (the JSON shape is rag.eval.run's)."""

from __future__ import annotations

from typing import Any

from rag.eval.run import TOP_K


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render(result: dict[str, Any]) -> str:
    """A small plain-text table of an evaluation result."""
    ing = result.get("ingest", {})
    lines = [f"{result['task']} on {result['data']} ({result['sample']}); index: {ing.get('documents')} documents, "
             f"{ing.get('chunks')} chunks, ingested in {_fmt(ing.get('seconds'))} s"]
    if result["task"] == "retrieval":
        names = ["ndcg@10", "recall@5", "recall@100", "mrr@10"]
        lines.append(f"{result['questions']} queries, document-level; recall@100 from k={result['k']} chunks, "
                     f"the rest and the latency from k={TOP_K}")
        lines.append(f"{'mode':<8}" + "".join(f"{n:>12}" for n in names) + f"{'p50 ms':>10}{'p95 ms':>10}")
        for mode, row in result["modes"].items():
            lat = row["latency_ms"]
            lines.append(f"{mode:<8}" + "".join(f"{_fmt(row[n]):>12}" for n in names)
                         + f"{_fmt(lat['p50']):>10}{_fmt(lat['p95']):>10}")
    elif result["task"] == "qa":
        lines.append(f"{result['questions']} questions ({result['answerable']} answerable, "
                     f"{result['unanswerable']} unanswerable)")
        lines += [f"  {name:<30}{_fmt(value):>8}" for name, value in result["metrics"].items()]
        for name, lat in result["latency_ms"].items():
            lines.append(f"  {name + ' ms (p50 / p95)':<30}{_fmt(lat['p50']):>8} / {_fmt(lat['p95'])}")
    else:
        lines.append(f"{result['items']} items, {result['documents']} documents")
        lines.append(f"{'':<10}{'ROUGE-1':>10}{'ROUGE-2':>10}{'ROUGE-L':>10}{'ROUGE-Lsum':>12}")
        for label in ("system", "lead3"):
            row = result[label]
            lines.append(f"{label:<10}" + "".join(f"{_fmt(row.get(n)):>10}" for n in ("rouge1", "rouge2", "rougeL"))
                         + f"{_fmt(row.get('rougeLsum')):>12}")
        lines.append(f"sentences cited {_fmt(result['sentences_cited'])}, supported "
                     f"{_fmt(result['sentences_supported'])}; ms per summary p50 "
                     f"{_fmt(result['seconds_per_summary']['p50'])}")
    return "\n".join(lines)
