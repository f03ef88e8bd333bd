"""Judge training pairs beyond SQuAD: RealTime QA's earlier months and self-supervised SciFact pairs.

What `../shared/train/README.md` allows, and nothing more:
- RealTime QA: questions dated in `TRAIN_MONTHS` (2025-01, 2025-02) against their gold evidence
  paragraph (label 1, the answer's span when it is written there) and hard negatives: windows of
  the news articles the quiz's own search returned that hold no answer string and are not marked
  as weak evidence, and another question's gold paragraph from the same week. March questions
  (the evaluation month) are never read.
- SciFact: no labelled query is read. A paper's title is the query, its abstract's opening
  window the positive, and the BM25 neighbours' abstracts (by that title) the negatives.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from rag.eval.run import Record
from rag.training.data import MAX_WORDS, Pair, _bm25_neighbours, _jsonl, answer_in, holds_answer, window

TRAIN_MONTHS = ("2025-01", "2025-02")


def _month(value: object) -> str:
    return str(value or "").replace("/", "-")[:7]


def realtime_pairs(data_dir: Path, seed: int = 13, negatives: int = 2) -> list[Pair]:
    """Pairs from the RealTime QA questions of `TRAIN_MONTHS` (see the module docstring)."""
    root = data_dir / "realtimeqa"
    docs = {r["id"]: r for r in _jsonl(root / "corpus.jsonl")}
    questions = sorted((q for q in _jsonl(root / "questions.jsonl") if _month(q.get("question_date")) in TRAIN_MONTHS),
                       key=lambda q: q["id"])
    rng = random.Random(seed)
    week: dict[str, list[str]] = {}
    for q in questions:
        for d in q.get("evidence_doc_ids") or ():
            week.setdefault(str(q.get("question_date")), []).append(d)
    out: list[Pair] = []
    for q in questions:
        answers = [a for a in q.get("answers") or () if a.strip()]
        gold = [d for d in q.get("evidence_doc_ids") or () if d in docs]
        if not answers or not gold:
            continue
        text = docs[gold[0]]["text"]
        passage = window(text, rng, answers)
        out.append(Pair(q["question"], passage, 1.0, "realtime_gold", answer_in(passage, answers)))
        weak = set(q.get("weak_evidence_doc_ids") or ())
        found = [docs[d]["text"] for d in q.get("search_result_doc_ids") or ()
                 if d in docs and d not in weak and not holds_answer(docs[d]["text"], answers)]
        for other in rng.sample(found, min(negatives, len(found))):
            out.append(Pair(q["question"], window(other, rng), 0.0, "realtime_search_result"))
        same_week = [d for d in week.get(str(q.get("question_date")), []) if d not in gold and d in docs
                     and not holds_answer(docs[d]["text"], answers)]
        if same_week:
            out.append(Pair(q["question"], window(docs[rng.choice(same_week)]["text"], rng), 0.0,
                            "realtime_same_week"))
    return out


def scifact_pairs(data_dir: Path, limit: int, seed: int = 13, negatives: int = 1) -> list[Pair]:
    """Title -> opening of its own abstract (1) and BM25 neighbours' abstracts (0), for `limit` papers."""
    rows = _jsonl(data_dir / "scifact" / "corpus.jsonl")
    papers = sorted((Record(str(r.get("_id", r.get("id"))), str(r.get("title") or ""), str(r.get("text") or ""))
                     for r in rows), key=lambda r: r.id)
    papers = [p for p in papers if p.title.strip() and len(p.text.split()) >= 40]
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(papers)), min(limit, len(papers))))
    queries = [papers[i].title for i in chosen]
    near = _bm25_neighbours(papers, queries, 4 + negatives)
    out: list[Pair] = []
    for n, i in enumerate(chosen):
        title = papers[i].title
        out.append(Pair(title, " ".join(papers[i].text.split()[:MAX_WORDS]), 1.0, "scifact_title"))
        others = [papers[j] for j in near[n] if j != i][:3]
        for p in rng.sample(others, min(negatives, len(others))):
            out.append(Pair(title, window(p.text, rng), 0.0, "scifact_bm25"))
    return out


def describe(pairs: Sequence[Pair]) -> dict[str, int]:
    """Positives with a located answer span, positives without one, negatives."""
    return {"positives_with_span": sum(1 for p in pairs if p.label and p.answer),
            "positives_without_span": sum(1 for p in pairs if p.label and not p.answer),
            "negatives": sum(1 for p in pairs if not p.label)}
