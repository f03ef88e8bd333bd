"""The project's judge (rag/models/judge) on SQuAD v2 EVAL articles only, beside BM25 and MiniLM.

    .venv/bin/python bench/bench_judge.py [--questions 100] [--candidates 20] [--write-card]

(a) reranking inside each eval article: the article's paragraphs ranked by BM25, MiniLM cosine,
    their reciprocal-rank fusion (k=60), and the fused top-N reordered by the judge; MRR and
    recall@1 of the gold paragraph;
(b) answerability: AUROC of the best judge score over the fused top-N (and of the gold
    paragraph's score), answerable vs unanswerable; the threshold is calibrated on the held-back
    TRAINING articles (lowest score that still answers >= 90% of their answerable questions) and
    reported on the eval articles;
(c) quote pick: share of answerable questions whose best-scored sentence of the gold paragraph
    holds a gold answer (judge vs MiniLM cosine vs content-word overlap);
(d) latency of scoring 30 (and 20) passages of ~120 words, p50/p95 over repeated calls.
--write-card stores the table in card.json / MODEL_CARD.md (the product's answerable threshold is
calibrated through its own search and evidence by `bench/bench_qa.py --gate --split calibration
--calibrate`; the one here, over an article's paragraphs, only sets the rates of these rows).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _util import ROOT, machine_note, table

from rag.config import configure_offline, packaged_embedder_path
from rag.ingest.sentences import split_sentences
from rag.retrieve.judge import OpenVinoJudge, packaged_judge_path, read_card
from rag.retrieve.lexical import content_terms
from rag.training.data import DEFAULT_SPLIT, holds_answer, load_split, load_squad, sentences
from rag.training.export import write_card

ANSWER_RATE = 0.90
BLEND_WEIGHTS = (0.3, 0.5, 0.7)


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    scores = np.concatenate([pos, neg])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _auroc_of(rows: list[dict], key: str) -> float:
    pos = np.array([r[key] for r in rows if r["answerable"]])
    return auroc(pos, np.array([r[key] for r in rows if not r["answerable"]]))


def rank_of(order: list[int], gold: int) -> int:
    return order.index(gold) + 1


def evaluate(titles, paragraphs, questions, judge, embedder, n_questions: int, n_cand: int, seed: int) -> dict:
    """Per-question scores and ranks for the articles in `titles` (a seeded sample of questions)."""
    import bm25s
    import Stemmer

    stem = Stemmer.Stemmer("english")
    rng = random.Random(seed)
    by_title = {t: sorted((p for p in paragraphs.values() if p.title == t), key=lambda p: p.id) for t in titles}
    pool = sorted((q for q in questions if q.paragraph_id in paragraphs
                   and paragraphs[q.paragraph_id].title in titles), key=lambda q: q.id)
    answerable = [q for q in pool if q.answers]
    unanswerable = [q for q in pool if not q.answers]
    chosen = rng.sample(answerable, min(n_questions, len(answerable))) + \
        rng.sample(unanswerable, min(n_questions, len(unanswerable)))
    indexes = {}
    for t, paras in by_title.items():
        bm = bm25s.BM25()
        bm.index(bm25s.tokenize([p.text for p in paras], stopwords="en", stemmer=stem, show_progress=False),
                 show_progress=False)
        indexes[t] = (bm, embedder.embed([p.text for p in paras]))
    rows = []
    for q in chosen:
        paras = by_title[paragraphs[q.paragraph_id].title]
        gold = [p.id for p in paras].index(q.paragraph_id)
        bm, vecs = indexes[paras[0].title]
        ids, _ = bm.retrieve(bm25s.tokenize([q.question], stopwords="en", stemmer=stem, show_progress=False),
                             k=len(paras), show_progress=False)
        bm_order = [int(i) for i in ids[0]]
        cosine = vecs @ embedder.embed_query(q.question)
        dense_order = list(np.argsort(-cosine, kind="stable"))
        rrf = {i: 1 / (60 + bm_order.index(i) + 1) + 1 / (60 + dense_order.index(i) + 1) for i in range(len(paras))}
        fused = sorted(range(len(paras)), key=lambda i: -rrf[i])
        top = fused[:n_cand]
        readings = judge.read(q.question, [p.text for p in (paras[i] for i in top)])
        scores = np.array([r.probability for r in readings])
        margins = np.array([r.span_margin for r in readings])
        judged = [top[i] for i in np.argsort(-scores, kind="stable")] + fused[n_cand:]
        rrf_top = np.array([rrf[i] for i in top])
        norm = (rrf_top - rrf_top.min()) / max(rrf_top.max() - rrf_top.min(), 1e-12)
        blends = {}
        for w in BLEND_WEIGHTS:
            mix = w * scores + (1 - w) * norm
            mixed = [top[i] for i in np.argsort(-mix, kind="stable")] + fused[n_cand:]
            blends[f"judge {w:.1f} + fused"] = rank_of(mixed, gold)
        gold_reading = readings[top.index(gold)] if gold in top else judge.read(q.question, [paras[gold].text])[0]
        row = {"answerable": bool(q.answers), "max": float(scores.max()), "gold": gold_reading.probability,
               "margin_max": float(margins.max()), "top3_max": float(scores[:3].max()),
               "cosine_max": float(cosine[top].max()),
               "ranks": {"bm25": rank_of(bm_order, gold), "minilm": rank_of([int(i) for i in dense_order], gold),
                         "fused": rank_of(fused, gold), "judge": rank_of(judged, gold), **blends}}
        sents = sentences(paras[gold].text)
        if q.answers and len(sents) > 1 and any(holds_answer(s, q.answers) for s in sents):
            js = judge.score(q.question, sents)
            at, text = gold_reading.start, paras[gold].text
            spans = [(a, b) for a, b in split_sentences(text)]
            pointed = next((text[a:b] for a, b in spans if a <= at < b), sents[0]) if at >= 0 else sents[0]
            cs = embedder.embed(sents) @ embedder.embed_query(q.question)
            terms = content_terms(q.question)
            lex = [len(terms & content_terms(s)) for s in sents]
            row["sentence"] = {name: holds_answer(sents[int(np.argmax(v))], q.answers)
                               for name, v in (("judge", js), ("minilm", cs), ("overlap", lex))}
            row["sentence"]["judge span"] = holds_answer(pointed, q.answers)
            row["sentence"]["first"] = holds_answer(sents[0], q.answers)
        rows.append(row)
    return {"rows": rows}


def latency(judge: OpenVinoJudge, paragraphs, n: int, repeats: int = 15) -> tuple[float, float]:
    """p50 and p95 milliseconds to score `n` passages of ~120 words against one question."""
    texts = [" ".join(p.text.split()[:120]) for p in sorted(paragraphs.values(), key=lambda p: p.id)
             if len(p.text.split()) >= 120][:n]
    judge.score("What did the ministry say about grid storage targets?", texts)  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        judge.score(f"Which year did event number {r} take place?", texts)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=100, help="answerable and as many unanswerable, per split")
    ap.add_argument("--candidates", type=int, default=20, help="fused top-N the judge reorders")
    ap.add_argument("--split", type=Path, default=ROOT / DEFAULT_SPLIT)
    ap.add_argument("--model", type=Path, default=packaged_judge_path())
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write-card", action="store_true")
    args = ap.parse_args()
    configure_offline()
    from rag.embed.backends import make_fast_embedder

    split = load_split(args.split)
    paragraphs, questions = load_squad()
    judge = OpenVinoJudge(args.model)
    embedder = make_fast_embedder(packaged_embedder_path(), "minilm", "openvino")
    t0 = time.perf_counter()
    cal = evaluate(split.calibration, paragraphs, questions, judge, embedder, args.questions, args.candidates,
                   args.seed)["rows"]
    ev = evaluate(split.eval, paragraphs, questions, judge, embedder, args.questions, args.candidates,
                  args.seed)["rows"]
    scored_s = time.perf_counter() - t0
    cal_pos = np.array(sorted(r["max"] for r in cal if r["answerable"]))
    threshold = float(cal_pos[int(np.floor((1 - ANSWER_RATE) * len(cal_pos)))])
    pos = np.array([r["max"] for r in ev if r["answerable"]])
    neg = np.array([r["max"] for r in ev if not r["answerable"]])
    gpos = np.array([r["gold"] for r in ev if r["answerable"]])
    gneg = np.array([r["gold"] for r in ev if not r["answerable"]])
    ans = [r for r in ev if r["answerable"]]
    lines = [table(["reranking (eval, answerable)", "MRR", "R@1"], [
        [m, f"{statistics.mean(1 / r['ranks'][m] for r in ans):.3f}",
         f"{statistics.mean(r['ranks'][m] == 1 for r in ans):.3f}"] for m in ans[0]["ranks"]])]
    cal_ans = [r for r in cal if r["answerable"]]
    lines.append(table(["reranking (calibration, answerable)", "MRR", "R@1"], [
        [m, f"{statistics.mean(1 / r['ranks'][m] for r in cal_ans):.3f}",
         f"{statistics.mean(r['ranks'][m] == 1 for r in cal_ans):.3f}"] for m in cal_ans[0]["ranks"]]))
    cal_neg = np.array([r["max"] for r in cal if not r["answerable"]])
    cos_pos = np.array([r["cosine_max"] for r in ans])
    cos_neg = np.array([r["cosine_max"] for r in ev if not r["answerable"]])
    lines.append(table(["answerability", "AUROC", "answer rate (answerable)", "refuse rate (unanswerable)"], [
        ["calibration: max over fused top-N", f"{auroc(cal_pos, cal_neg):.3f}", f"{(cal_pos >= threshold).mean():.3f}",
         f"{(cal_neg < threshold).mean():.3f}"],
        ["eval: max over fused top-N", f"{auroc(pos, neg):.3f}", f"{(pos >= threshold).mean():.3f}",
         f"{(neg < threshold).mean():.3f}"],
        ["eval: gold paragraph score", f"{auroc(gpos, gneg):.3f}", f"{(gpos >= threshold).mean():.3f}",
         f"{(gneg < threshold).mean():.3f}"],
        ["eval: MiniLM cosine, max over fused top-N (untrained)", f"{auroc(cos_pos, cos_neg):.3f}", None, None],
        *[[f"{split}: {key} (span margin / top-3 probability)", f"{_auroc_of(rows, key):.3f}", None, None]
          for split, rows in (("calibration", cal), ("eval", ev)) for key in ("margin_max", "top3_max")]]))
    sent = [r["sentence"] for r in ans if "sentence" in r]
    lines.append(table(["quote pick (eval, gold paragraph)", "accuracy"],
                       [[m, f"{statistics.mean(s[m] for s in sent):.3f}"]
                        for m in ("judge", "judge span", "minilm", "overlap", "first")]))
    lat = {n: latency(judge, paragraphs, n) for n in (5, 10, 20, 30)}
    lines.append(table(["latency (judge.score)", "p50 ms", "p95 ms"],
                       [[f"{n} passages x ~120 words", f"{a:.0f}", f"{b:.0f}"] for n, (a, b) in lat.items()]))
    command = "python bench/bench_judge.py " + " ".join(sys.argv[1:])
    note = (f"eval: {len(ans)} answerable + {len(ev) - len(ans)} unanswerable questions of the 12 eval articles; "
            f"calibration: {len(cal)} questions of held-back training articles {', '.join(split.calibration)}; "
            f"threshold {threshold:.4f} (answers >= {ANSWER_RATE:.0%} of calibration answerable); "
            f"candidates {args.candidates}; scoring took {scored_s:.0f} s. {machine_note()}")
    text = "\n\n".join(lines)
    print(text + "\n\n" + note + "\n\ncommand: " + command)
    if args.write_card:
        card = read_card(args.model)
        card["metrics"] = {"table": text.splitlines() + ["", note], "command": command}
        write_card(args.model, card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
