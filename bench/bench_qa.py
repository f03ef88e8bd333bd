"""Question answering on SQuAD v2 through the real pipeline, stage by stage.

Indexes every paragraph of a seeded sample of articles (files ingested by the Assistant), then
for a seeded sample of their questions runs what `rag ask` runs: hybrid search, select_evidence,
the evidence gate, the local model (streamed, timed), verify_answer (and, for the `quote` policy,
the sides step: disputed figures, compared parties). From the same model output
it scores several answer policies: `quote` (the default: unsupported or thin model text gets the
best evidence quoted), `quote if score>=X` (that quote only when the best evidence scores X or
more, else refused) and `strict` (no supported model sentence -> refused).

    .venv/bin/python bench/bench_qa.py --limit 200
    .venv/bin/python bench/bench_qa.py --gate --limit 2000      # the evidence gate alone, no LLM
    .venv/bin/python bench/bench_qa.py --split eval --limit 300   # articles the judge never saw

`--split eval` indexes every paragraph of the 12 SQuAD v2 articles the project's judge never saw in
training (../shared/train/squad-v2-split.json) and samples questions from them (`--split
calibration`: the 3 training articles held back from its training). The `quote` policy is the
default pipeline (the judge picks the quoted sentence); `quote, cosine pick` is the untrained pick
on the same model output. RAG_RERANK=1 reorders the hits by the judge too.

Figures: answered rate, answer holds a gold answer (SQuAD normalisation), citation precision
(the cited quote / its chunk holds a gold answer), refusal rate on unanswerable and answerable
questions, first-token and total seconds per answer.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _util import machine_note, table

from rag.answer import gate, verify
from rag.answer.ask import party_evidence, with_sides
from rag.answer.evidence import select_evidence
from rag.answer.prompt import ANSWER_STOP, answer_messages
from rag.answer.sides import comparison_parties
from rag.assistant import Assistant
from rag.config import Settings, eval_data_dir, packaged_judge_path
from rag.eval.metrics import contains_gold, mean, percentile
from rag.eval.run import load_qa_set, write_corpus
from rag.thresholds import THRESHOLDS
from rag.training.export import write_card

ANSWER_RATE = 0.90  # the answer rate the judge's threshold is calibrated to keep
SPLIT_FILE = Path(__file__).resolve().parents[1].parent / "shared" / "train" / "squad-v2-split.json"
CARD_FILE = packaged_judge_path() / "card.json"


def pick(data: Path, articles: int, limit: int, seed: int, split: str | None = None):  # noqa: ANN201
    corpus, questions = load_qa_set(data)
    titles = sorted({r.title for r in corpus})
    if split == "calibration":
        chosen = set(json.loads(CARD_FILE.read_text(encoding="utf-8"))["training"]["calibration_titles"])
    elif split:
        chosen = set(json.loads(SPLIT_FILE.read_text(encoding="utf-8"))[f"{split}_titles"])
    else:
        chosen = set(random.Random(seed).sample(titles, min(articles, len(titles))))
    docs = [r for r in corpus if r.title in chosen]
    ids = {r.id for r in docs}
    context = {}
    with open(data / "questions.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            context[str(row["id"])] = row.get("gold_context_doc_id")
    pool = [q for q in questions if context.get(q.id) in ids]
    qs = random.Random(seed + 1).sample(pool, min(limit, len(pool)))
    return docs, qs


def gate_features(assistant: Assistant, question: str, evidence) -> tuple[bool, float]:  # noqa: ANN001
    """(the gate's missing-names rule refuses, best evidence score), as rag.answer.gate computes them."""
    missing = gate.missing_keys(question, evidence, lambda doc_id: assistant.document(doc_id).text)
    return len(missing) >= THRESHOLDS.missing_keys_to_refuse, max((ev.score for ev in evidence), default=0.0)


def run_gate(assistant: Assistant, qs, settings: Settings) -> None:  # noqa: ANN001
    rows, judged = [], []
    judge = assistant.judge
    for q in qs:
        hits = assistant.search(q.text, rerank=False)
        evidence = select_evidence(q.text, hits, assistant.embedder, settings)
        missing, best = gate_features(assistant, q.text, evidence)
        rows.append((q.unanswerable, missing, best))
        if judge is not None:
            hand = not evidence or gate.evidence_is_insufficient(q.text, evidence, assistant.embedder,
                                                                   document_text=lambda d: assistant.document(d).text)
            top = gate.judge_answerability(q.text, evidence, judge) if evidence else 0.0
            judged.append((q.unanswerable, hand, top, not evidence or missing))
    out = []
    for use_missing in (False, True):
        for threshold in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
            refused = [(u, (use_missing and m) or b < threshold) for u, m, b in rows]
            out.append([("key+" if use_missing else "") + f"score<{threshold}",
                        f"{mean(float(not r) for u, r in refused if not u):.3f}",
                        f"{mean(float(r) for u, r in refused if u):.3f}"])
    calibrated = None
    if judge is not None:
        usable = sorted(top for u, _, top, key in judged if not u and not key)
        n_ans = sum(1 for u, *_ in judged if not u)
        keep = int(np.ceil(ANSWER_RATE * n_ans))  # answerable questions that must stay answered
        calibrated = float(usable[len(usable) - keep]) if 0 < keep <= len(usable) else None
        card = getattr(judge, "card", {}).get("answerable_threshold")
        marks = sorted({0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8} | {round(t, 4) for t in (card, calibrated) if t})
        for threshold in marks:
            for name, rule in (("key+judge", lambda hand, top, key, t=threshold: key or top < t),
                               ("judge alone", lambda hand, top, key, t=threshold: top < t),
                               ("hand rule+judge", lambda hand, top, key, t=threshold: hand or top < t)):
                refused = [(u, rule(hand, top, key)) for u, hand, top, key in judged]
                note = " (card)" if threshold == card else " (calibrated here)" if threshold == calibrated else ""
                out.append([f"{name}<{threshold}{note}", f"{mean(float(not r) for u, r in refused if not u):.3f}",
                            f"{mean(float(r) for u, r in refused if u):.3f}"])
    print(table(["gate rule", "answered (answerable)", "refused (unanswerable)"], out))
    print(f"hand rule: key+score<{THRESHOLDS.insufficient_score} (key: {THRESHOLDS.missing_keys_to_refuse} names or "
          f"numbers of the question missing from the evidence); judge = its best probability over the evidence's "
          f"chunks; the product's rule: {'key+judge<card' if THRESHOLDS.judge_gate and judge else 'the hand rule'}")
    if calibrated is not None:
        print(f"threshold answering >= {ANSWER_RATE:.0%} of answerable here under key+judge: {calibrated:.4f}")
    return calibrated


def _support_pairs(v) -> list[tuple[str, str]]:  # noqa: ANN001
    """(model sentence, its first cited quote) for the model's own supported sentences (not quotes)."""
    quotes = {c.n: c.quote for c in v.citations}
    return [(s.text, quotes[s.citations[0]]) for s in v.sentences
            if s.supported and s.citations and s.citations[0] in quotes and not s.text.startswith("According to ")]


def run_qa(assistant: Assistant, qs, settings: Settings, verbose: bool) -> None:  # noqa: ANN001
    generator = assistant.generator
    judge = assistant.judge
    print(f"hits: {'reranked by the judge' if settings.rerank else 'fused'}; judge: {judge.id if judge else 'off'}")
    policies = {"quote": {"judge": judge if THRESHOLDS.quote_by_judge else None}, "quote, judge pick": {"judge": judge},
                "quote, cosine pick (untrained)": {},
                "quote, NOT FOUND overruled": {"judge": judge if THRESHOLDS.quote_by_judge else None,
                                               "refuse_on_not_found": not THRESHOLDS.refuse_on_not_found},
                "quote if score>=0.8": {"quote_min_score": 0.8, "judge": judge},
                "quote if score>=0.9": {"quote_min_score": 0.9, "judge": judge},
                "strict": {"quote_when_unsupported": False, "judge": judge}}
    per_policy: dict[str, list[dict]] = {name: [] for name in policies}
    verify_ms: dict[str, list[float]] = {}
    first_s, total_s = [], []
    compared = disputed = 0
    for i, q in enumerate(qs):
        t0 = time.perf_counter()
        hits = assistant.search(q.text)
        parties = comparison_parties(q.text)
        if parties:
            hits, evidence = party_evidence(assistant, q.text, parties, hits, k=None, doc_ids=(), as_of=None)
        else:
            evidence = select_evidence(q.text, hits, assistant.embedder, settings)
        compared += bool(parties)
        raw, first = "", None
        gated = not evidence or gate.evidence_is_insufficient(q.text, evidence, assistant.embedder,
                                                               judge=judge if THRESHOLDS.judge_gate else None,
                                                               document_text=lambda d: assistant.document(d).text)
        if not gated:
            messages = answer_messages(q.text, evidence, context_window=generator.context_window,
                                       count_tokens=generator.count_tokens, reserve_tokens=settings.max_tokens)
            for piece in generator.stream(messages, max_tokens=settings.max_tokens, stop=ANSWER_STOP):
                first = first if first is not None else time.perf_counter() - t0
                raw += piece
        for policy in per_policy:
            if gated:
                v = gate.refusal(q.text)
            else:
                t_verify = time.perf_counter()
                v = verify.verify_answer(q.text, raw, evidence, assistant.embedder, **policies[policy])
                if policy == "quote":
                    v = with_sides(q.text, v, hits, evidence)
                    disputed += v.answer.startswith("The sources disagree")
                verify_ms.setdefault(policy, []).append((time.perf_counter() - t_verify) * 1000)
            chunk_text = {h.chunk_id: h.chunk.text for h in hits}
            per_policy[policy].append({
                "unanswerable": q.unanswerable, "refused": v.refused, "gated": gated,
                "gold": not v.refused and contains_gold(v.answer, q.answers),
                "model_gold": contains_gold(raw, q.answers) if raw else False,
                "quote_gold": [contains_gold(c.quote, q.answers) for c in v.citations],
                "chunk_gold": [contains_gold(chunk_text.get(c.chunk_id, ""), q.answers) for c in v.citations],
                "model_supported": any(s.supported and not s.text.startswith("According to ") for s in v.sentences),
                "support_pairs": _support_pairs(v) if policy == "quote" else []})
        total_s.append(time.perf_counter() - t0)
        if first is not None:
            first_s.append(first)
        if verbose:
            r = per_policy["quote"][-1]
            print(f"[{i + 1}/{len(qs)}] {'U' if q.unanswerable else 'A'} {q.text!r}\n   raw={raw[:160]!r}\n"
                  f"   refused={r['refused']} gold={r['gold']} gold={q.answers[:1]}", file=sys.stderr)
    rows = []
    for policy, rs in per_policy.items():
        ans = [r for r in rs if not r["unanswerable"]]
        una = [r for r in rs if r["unanswerable"]]
        answered = [r for r in ans if not r["refused"]]
        rows.append([
            policy,
            f"{mean(float(not r['refused']) for r in rs):.3f}",
            f"{mean(float(r['gold']) for r in ans):.3f}",
            f"{mean(float(r['gold']) for r in answered) or 0:.3f}",
            f"{mean(float(g) for r in ans for g in r['quote_gold']) or 0:.3f}",
            f"{mean(float(g) for r in ans for g in r['chunk_gold']) or 0:.3f}",
            f"{mean(float(r['refused']) for r in una) or 0:.3f}",
            f"{mean(float(r['refused']) for r in ans) or 0:.3f}",
        ])
    print(table(["policy", "answered", "gold (answerable)", "gold (answered)", "cite prec. quote",
                 "cite prec. chunk", "refused unanswerable", "refused answerable"], rows))
    quote = per_policy["quote"]
    ans = [r for r in quote if not r["unanswerable"]]
    una = [r for r in quote if r["unanswerable"]]
    print(f"gate refused: answerable {mean(float(r['gated']) for r in ans):.3f}, "
          f"unanswerable {mean(float(r['gated']) for r in una):.3f}; "
          f"model text alone holds gold (answerable): {mean(float(r['model_gold']) for r in ans):.3f}; "
          f"answers with a supported model sentence: {mean(float(r['model_supported']) for r in quote):.3f}")
    print(f"comparing questions (each party searched): {compared}; answers shown as a dispute: {disputed}")
    pairs = [p for r in quote for p in r["support_pairs"]]
    if judge is not None and pairs:
        probs = [float(judge.score(claim, [quote_text])[0]) for claim, quote_text in pairs]
        doubted = sum(1 for p in probs if p < judge.threshold)
        print(f"support check: {len(pairs)} model sentences the lexical rule cites; the judge (claim as the question, "
              f"its quote as the passage) scores {doubted} ({doubted / len(pairs):.3f}) below its threshold "
              f"{judge.threshold:.3f}: the rule and the model disagree on those")
    print("verify ms per answered question, p50 / p90: " + "; ".join(
        f"{name} {percentile(ms, 50) or 0:.0f} / {percentile(ms, 90) or 0:.0f}" for name, ms in verify_ms.items()
        if name in ("quote", "quote, cosine pick (untrained)")))
    print(f"seconds per answer (model called): first token p50 {percentile(first_s, 50) or 0:.2f} "
          f"p90 {percentile(first_s, 90) or 0:.2f}; total (all questions) p50 {percentile(total_s, 50) or 0:.2f} "
          f"p90 {percentile(total_s, 90) or 0:.2f} mean {mean(total_s) or 0:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None,
                        help="eval folder or its squad-v2 subfolder (default $RAG_EVAL_DATA or ../shared/eval)")
    parser.add_argument("--limit", type=int, default=200, help="questions (default 200)")
    parser.add_argument("--articles", type=int, default=6, help="articles whose paragraphs are indexed (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("eval", "calibration"), default=None,
                        help="index every paragraph of the split file's eval articles (never trained on), or of "
                        "the training articles held back from the judge's training for calibration")
    parser.add_argument("--gate", action="store_true", help="evaluate the evidence gate only (no LLM)")
    parser.add_argument("--calibrate", action="store_true",
                        help="with --gate --split calibration: write the judge threshold to its card.json")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the index here (reused when it exists)")
    parser.add_argument("--verbose", action="store_true", help="print each question and answer on stderr")
    args = parser.parse_args()
    data = args.data or eval_data_dir()
    if not (data / "questions.jsonl").is_file():
        data = data / "squad-v2"
    if not (data / "questions.jsonl").is_file():
        sys.exit(f"no SQuAD v2 data at {data} (set RAG_EVAL_DATA or --data)")
    docs, qs = pick(data, args.articles, args.limit, args.seed, args.split)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-qa-"))
    settings = Settings.from_env(index_dir=root / "index")
    try:
        with Assistant(settings) as assistant:
            _run(assistant, args, data, docs, qs, settings)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def _run(assistant: Assistant, args: argparse.Namespace, data: Path, docs, qs, settings: Settings) -> None:  # noqa: ANN001
    root = Path(settings.index_dir).parent
    t0 = time.perf_counter()
    write_corpus(root / "docs", [(r.id, r.title, r.text) for r in docs])
    report = assistant.ingest([root / "docs"])
    unanswerable = sum(q.unanswerable for q in qs)
    articles = len({r.title for r in docs})
    print(f"SQuAD v2 {data}: {len(docs)} paragraphs of {articles} {args.split or 'sampled'} articles indexed "
          f"({report.chunks} chunks, {time.perf_counter() - t0:.0f} s); {len(qs)} questions "
          f"({unanswerable} unanswerable), seed {args.seed}; {machine_note()}")
    if args.gate:
        calibrated = run_gate(assistant, qs, settings)
        if args.calibrate:
            if args.split != "calibration" or calibrated is None:
                sys.exit("--calibrate needs --gate --split calibration and the judge on")
            card = json.loads(CARD_FILE.read_text(encoding="utf-8"))
            card["answerable_threshold"] = round(calibrated, 4)
            card["calibration"] = {"rule": f"refuse when no evidence chunk scores this or more (a name or number of "
                                           f"the question missing from the evidence refuses too); the lowest such "
                                           f"threshold that answers >= {ANSWER_RATE:.0%} of the answerable "
                                           f"questions of the held-back training articles "
                                           f"({len(qs)} questions, seed {args.seed}, through the product's search "
                                           f"and evidence)", "command": "python bench/bench_qa.py "
                                           + " ".join(sys.argv[1:])}
            write_card(CARD_FILE.parent, card)
            print(f"wrote answerable_threshold {calibrated:.4f} to {CARD_FILE}")
    else:
        print(f"model {assistant.generator.info.get('llm')}, k={settings.k}, max_tokens={settings.max_tokens}")
        run_qa(assistant, qs, settings, args.verbose)


if __name__ == "__main__":
    main()
