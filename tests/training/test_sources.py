"""Judge training data beyond SQuAD (RealTime QA training months, self-supervised SciFact), the span
targets and the kind quotas: only what ../shared/train/README.md allows is read."""

from __future__ import annotations

import json
from pathlib import Path

from rag.config import packaged_embedder_path
from rag.training.data import Pair, answer_in, sample_pairs
from rag.training.sources import realtime_pairs, scifact_pairs
from rag.training.train import span_targets


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _realtime(root: Path) -> None:
    docs = [{"id": "ev:jan", "text": "The mayor of Dover resigned on Monday after a vote of the council.",
             "date": "2025/01/10"},
            {"id": "ev:jan2", "text": "Snow closed the airport in Oslo for a day.", "date": "2025/01/10"},
            {"id": "ev:mar", "text": "The March answer is Lisbon, the eval month's city.", "date": "2025/03/07"},
            {"id": "gcs:a", "text": "Councils in Kent met to discuss harbour fees and ferry fares.",
             "date": "2024/12/01"},
            {"id": "gcs:weak", "text": "A council vote in Dover was expected.", "date": "2025/01/09"}]
    qs = [{"id": "jan_0", "question": "Which mayor resigned on Monday?", "answers": ["The mayor of Dover"],
           "evidence_doc_ids": ["ev:jan"], "weak_evidence_doc_ids": ["gcs:weak"],
           "search_result_doc_ids": ["gcs:a", "gcs:weak"], "question_date": "2025/01/10"},
          {"id": "jan_1", "question": "What closed in Oslo?", "answers": ["the airport"],
           "evidence_doc_ids": ["ev:jan2"], "search_result_doc_ids": [], "question_date": "2025/01/10"},
          {"id": "mar_0", "question": "Which city is the March answer?", "answers": ["Lisbon"],
           "evidence_doc_ids": ["ev:mar"], "search_result_doc_ids": ["gcs:a"], "question_date": "2025/03/07"}]
    _write(root / "realtimeqa" / "corpus.jsonl", docs)
    _write(root / "realtimeqa" / "questions.jsonl", qs)


def test_realtime_pairs_read_only_the_training_months(tmp_path: Path) -> None:
    _realtime(tmp_path)
    pairs = realtime_pairs(tmp_path, seed=1)
    assert all("March" not in p.question and "Lisbon" not in p.passage for p in pairs)  # the eval month unread
    gold = [p for p in pairs if p.kind == "realtime_gold"]
    assert {p.question for p in gold} == {"Which mayor resigned on Monday?", "What closed in Oslo?"}
    assert [p.answer for p in gold if "Dover" in p.passage] == ["The mayor of Dover"]
    negatives = [p for p in pairs if not p.label]
    assert negatives and all("was expected" not in p.passage for p in negatives)  # weak evidence is no negative
    assert {p.kind for p in negatives} == {"realtime_search_result", "realtime_same_week"}


def test_scifact_pairs_use_titles_not_labelled_queries(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(60))
    rows = [{"id": str(i), "title": f"Gene {i} controls growth in mice", "text": f"Gene {i} study. {words} mice."}
            for i in range(6)]
    _write(tmp_path / "scifact" / "corpus.jsonl", rows)
    _write(tmp_path / "scifact" / "queries.jsonl", [{"_id": "1", "text": "A labelled claim never read."}])
    pairs = scifact_pairs(tmp_path, limit=3, seed=2)
    assert len([p for p in pairs if p.label]) == 3
    assert all(p.question.startswith("Gene ") and "claim" not in p.question for p in pairs)
    for p in pairs:
        own = p.question.split()[1]
        assert (f"Gene {own} study" in p.passage) == bool(p.label)


def test_span_targets_point_at_the_answer_tokens_or_cls() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_embedder_path()), local_files_only=True)
    passage = "The Rhine rises in the Swiss Alps and reaches the North Sea."
    answer = answer_in(passage, ["the swiss alps"])
    pairs = [Pair("Where does the Rhine rise?", passage, 1.0, "positive_paragraph", answer),
             Pair("Where does the Rhine rise?", "Barges carry coal.", 0.0, "bm25_paragraph"),
             Pair("When did it flood?", passage, 1.0, "positive_paragraph", "")]
    enc = tokenizer([p.question for p in pairs], [p.passage for p in pairs], return_offsets_mapping=True)
    starts, ends, use = span_targets(enc, pairs)
    tokens = enc.tokens(0)
    assert pairs[0].answer == "the Swiss Alps" and tokens[starts[0]:ends[0] + 1] == ["the", "swiss", "alps"]
    assert (starts[1], ends[1], use[1]) == (0, 0, True)  # a negative: the [CLS] "no answer"
    assert use == [True, True, False]  # a positive with no written answer has no span loss


def test_quotas_cap_the_named_kinds_and_keep_the_rest() -> None:
    pairs = [Pair(f"q{i}", "p", 0.0, "a") for i in range(10)] + [Pair(f"r{i}", "p", 1.0, "b") for i in range(4)]
    got = sample_pairs(pairs, 100, seed=3, quotas={"a": 3})
    assert sorted(p.kind for p in got) == ["a"] * 3 + ["b"] * 4
    assert got == sample_pairs(pairs, 100, seed=3, quotas={"a": 3})
    assert len(sample_pairs(pairs, 5, seed=3, quotas={"a": 3})) == 5
