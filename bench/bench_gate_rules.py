"""The hand-tuned refusal gate's settings on SQuAD v2 and RealTime QA, no LLM: which rule refuses
the unanswerable questions and keeps answering the answerable ones.

    .venv/bin/python bench/bench_gate_rules.py --workdir /tmp/gate-rules

For each question the real search and evidence selection run (news questions as of their own
date); a rule refuses on the number of the question's names/numbers missing from the evidence
(THRESHOLDS.missing_keys_to_refuse) and the best evidence score (THRESHOLDS.insufficient_score). The
names/numbers are either all of the question's key terms ("all names", rag.retrieve.lexical.key_terms) or
those the gate asks for (rag.answer.gate.asked_keys: no later sentence's first word, no words describing
the asked-for thing, "which Dutch artist").
Rules are chosen on the SQuAD articles held back from the judge's training ("calibration") and
RealTime QA January-February, and reported on the SQuAD eval articles and RealTime QA March
(every RealTime QA question is answerable: only the answered share is shown).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _util import machine_note, table
from bench_qa import pick

from rag.answer.evidence import select_evidence
from rag.answer.gate import asked_keys, hit_terms, missing_keys
from rag.assistant import Assistant
from rag.config import Settings, eval_data_dir
from rag.eval.run import in_month, load_qa_set, write_corpus
from rag.retrieve.lexical import key_terms

KEY_RULES = ("all names", "asked keys", "asked keys, documents")
RULES = [(1, 0.60), (1, 0.65), (2, 0.60), (2, 0.62), (2, 0.64), (2, 0.65), (2, 0.66), (None, 0.65), (None, 0.66)]


def features(assistant: Assistant, settings: Settings, questions, dated: bool) -> list[tuple]:  # noqa: ANN001
    """(unanswerable, {key rule: missing key terms}, best evidence score, any evidence) per question."""
    out = []
    for q in questions:
        hits = assistant.search(q.text, as_of=q.date if dated else None)
        evidence = select_evidence(q.text, hits, assistant.embedder, settings)
        found = hit_terms([e.hit for e in evidence])
        in_documents = missing_keys(q.text, evidence, lambda doc_id: assistant.document(doc_id).text)
        missing = {"all names": len(key_terms(q.text) - found), "asked keys": len(asked_keys(q.text) - found),
                   "asked keys, documents": len(in_documents)}
        out.append((q.unanswerable, missing, max((e.score for e in evidence), default=0.0), bool(evidence)))
    return out


def refused(feature: tuple, rule: str, keys: int | None, score: float) -> bool:
    """Whether the gate with `keys` missing names (counted by `rule`) and `score` refuses this question."""
    return not feature[3] or (keys is not None and feature[1][rule] >= keys) or feature[2] < score


def _index(root: Path, docs) -> Settings:  # noqa: ANN001
    write_corpus(root / "docs", docs)
    settings = Settings.from_env(index_dir=root / "index")
    with Assistant(settings) as assistant:
        assistant.ingest([root / "docs"])
    return settings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, required=True, help="indexes are built (once) and kept here")
    args = ap.parse_args()
    data = eval_data_dir()
    sets: dict[str, list[tuple]] = {}
    for split, limit in (("calibration", 400), ("eval", 600)):
        docs, qs = pick(data / "squad-v2", 6, limit, 0, split)
        settings = _index(args.workdir / split, [(r.id, r.title, r.text) for r in docs])
        with Assistant(settings) as assistant:
            sets[f"SQuAD {split}"] = features(assistant, settings, qs, False)
    corpus, questions = load_qa_set(data / "realtimeqa")
    settings = _index(args.workdir / "realtimeqa", [(r.id, r.title, r.text, r.date) for r in corpus])
    with Assistant(settings) as assistant:
        sets["RTQA Jan-Feb"] = features(assistant, settings, in_month(questions, "2025-01")
                                        + in_month(questions, "2025-02"), True)
        sets["RTQA March"] = features(assistant, settings, in_month(questions, "2025-03"), True)
    rows = []
    for (keys, score), rule in [(r, k) for r in RULES for k in KEY_RULES if r[0] or k == KEY_RULES[0]]:
        cells = [f"{keys or 'no'} missing {rule if keys else 'name'} | score < {score}"]
        for feats in sets.values():
            ans = [not refused(r, rule, keys, score) for r in feats if not r[0]]
            una = [refused(r, rule, keys, score) for r in feats if r[0]]
            cells.append(f"{sum(ans) / len(ans):.3f}" + (f" / {sum(una) / len(una):.3f}" if una else ""))
        rows.append(cells)
    print(f"answered (answerable) / refused (unanswerable); {machine_note()}")
    print(table(["rule", *sets], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
