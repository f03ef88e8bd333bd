"""Pair building for the judge: seeded, deterministic, and blind to every article not named."""

from __future__ import annotations

import json

import pytest

from rag.errors import ConfigError
from rag.training.data import Paragraph, Question, build_pairs, holds_answer, kind_counts, load_split, window

TEXTS = {
    "Rivers": [
        "The Rhine rises in the Swiss Alps. It flows north for 1,230 kilometres. It reaches the North Sea.",
        "Barges carry coal on the river. Locks were built in 1850. Tolls were abolished later.",
        "Salmon returned to the river in the 1990s. Clean-up plans began after a chemical spill.",
    ],
    "Engines": [
        "The steam engine was improved by James Watt in 1765. His separate condenser saved fuel.",
        "Locomotives used high-pressure steam. Richard Trevithick built one in 1804.",
    ],
    "Secret eval": [
        "The eval article must never appear in a pair. Its answer is forty-two.",
    ],
}
PARAGRAPHS = {f"{t}#{i}": Paragraph(f"{t}#{i}", t, text) for t, texts in TEXTS.items() for i, text in enumerate(texts)}
QUESTIONS = [
    Question("q1", "Where does the Rhine rise?", ("the Swiss Alps",), "Rivers#0"),
    Question("q2", "When were the locks built?", ("1850",), "Rivers#1"),
    Question("q3", "When did salmon leave the Rhine for good?", (), "Rivers#2"),
    Question("q4", "Who improved the steam engine in 1765?", ("James Watt",), "Engines#0"),
    Question("q5", "Who built a locomotive in 1804?", ("Richard Trevithick",), "Engines#1"),
    Question("q6", "What is the eval answer?", ("forty-two",), "Secret eval#0"),
]
TRAIN = ("Rivers", "Engines")


def test_pairs_are_seeded_and_deterministic():
    a = build_pairs(PARAGRAPHS, QUESTIONS, TRAIN, seed=3)
    b = build_pairs(PARAGRAPHS, list(reversed(QUESTIONS)), TRAIN, seed=3)
    assert a == b and len(a) > 10


def test_pairs_never_touch_articles_left_out():
    pairs = build_pairs(PARAGRAPHS, QUESTIONS, TRAIN, seed=1)
    assert not any("eval" in p.question.lower() or "eval" in p.passage.lower() for p in pairs)


def test_pair_rules_and_labels():
    pairs = build_pairs(PARAGRAPHS, QUESTIONS, TRAIN, seed=5)
    kinds = kind_counts(pairs)
    assert set(kinds) == {"positive_paragraph", "same_article_paragraph", "bm25_paragraph", "positive_sentence",
                          "negative_sentence", "unanswerable_paragraph", "unanswerable_sentence"}
    answers = {q.question: q.answers for q in QUESTIONS}
    for p in pairs:
        assert p.label == (1.0 if p.kind.startswith("positive") else 0.0)
        if p.kind.startswith("positive"):
            assert holds_answer(p.passage, answers[p.question])
        elif answers[p.question]:  # a negative never holds the answer string
            assert not holds_answer(p.passage, answers[p.question])
    own = [p for p in pairs if p.kind == "unanswerable_paragraph"]
    assert [p.passage for p in own] == [TEXTS["Rivers"][2]]
    sentence = next(p for p in pairs if p.kind == "positive_sentence" and p.question.startswith("Where"))
    assert sentence.passage == "The Rhine rises in the Swiss Alps."


def test_window_keeps_the_answer_and_the_length():
    import random

    text = " ".join(f"w{i}" for i in range(300)) + " the answer is here " + " ".join(f"v{i}" for i in range(300))
    cut = window(text, random.Random(0), ("answer is here",), max_words=50)
    assert len(cut.split()) == 50 and "answer is here" in cut
    assert window("short text", random.Random(0)) == "short text"


def test_split_holds_back_seeded_training_articles(tmp_path):
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train_titles": [f"T{i}" for i in range(10)], "eval_titles": ["E1", "E2"]}))
    a, b = load_split(path, seed=4, held_back=3), load_split(path, seed=4, held_back=3)
    assert a == b and len(a.calibration) == 3 and len(a.train) == 7
    assert not set(a.calibration) & set(a.train) and a.eval == ("E1", "E2")
    path.write_text(json.dumps({"train_titles": ["T1", "E1"], "eval_titles": ["E1"]}))
    with pytest.raises(ConfigError):
        load_split(path)
    with pytest.raises(ConfigError):
        load_split(tmp_path / "missing.json")
