"""The tracked judge: verified at load, ranks an answering passage first, flags an unanswerable pair."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelError
from rag.retrieve.judge import Judge, OpenVinoJudge, packaged_judge_path, pair_tokenizer, read_card

MODEL = packaged_judge_path()


def test_the_tracked_model_is_complete_and_matches_its_card():
    card = read_card(MODEL)
    assert card["max_length"] >= 64 and "answerable_threshold" in card
    assert (MODEL / "MODEL_CARD.md").is_file() and (MODEL / "model.bin").stat().st_size < 40_000_000


def test_a_corrupted_or_missing_file_is_an_error_naming_it(tmp_path: Path):
    copy = tmp_path / "judge"
    shutil.copytree(MODEL, copy)
    with (copy / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match=str(copy / "model.bin")):
        OpenVinoJudge(copy).score("q?", ["p"])
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=str(copy / "tokenizer.json")):
        OpenVinoJudge(copy).score("q?", ["p"])
    with pytest.raises(ModelError, match="missing"):
        OpenVinoJudge(tmp_path / "nowhere").score("q?", ["p"])


def test_passages_are_truncated_and_the_question_kept():
    tokenizer = pair_tokenizer(MODEL / "tokenizer.json", 32)
    enc = tokenizer.encode("Who wrote the report?", "word " * 200)
    assert len(enc.ids) == 32 and enc.type_ids[:7] == [0] * 7 and enc.type_ids[-1] == 1


def test_batches_cover_every_row_once_and_scores_come_back_in_order():
    judge = OpenVinoJudge(MODEL, batch_size=2)
    assert judge.batches([3, 9, 1, 5, 7]) == [[1, 4], [3, 0], [2]]
    judge._tokenizer = pair_tokenizer(MODEL / "tokenizer.json", 16)
    judge._compiled = lambda feeds: [feeds["attention_mask"].sum(axis=1).astype(np.float32) - 10.0]
    passages = ["a", "a b c d e f g h i j k l m n o p q r s", "a b c"]
    got = judge.score("q", passages)
    lengths = [len(e.ids) for e in judge.encode([("q", p) for p in passages])]
    assert lengths == [5, 16, 7]
    assert np.allclose(got, 1 / (1 + np.exp(-(np.array(lengths) - 10.0))))
    assert judge.score("q", []).shape == (0,)


@pytest.fixture(scope="module")
def judge() -> OpenVinoJudge:
    return OpenVinoJudge()


@pytest.mark.e2e
def test_ranks_the_answering_passage_above_a_same_topic_distractor(judge: OpenVinoJudge):
    assert isinstance(judge, Judge)
    question = "When did the Hanseatic League's trade on the Rhine reach its peak?"
    passages = [
        "The Rhine was a busy route for merchants from Cologne, who shipped wine and cloth downstream to the "
        "Netherlands and met Hanseatic traders in the ports of the North Sea.",
        "Hanseatic trade on the Rhine reached its peak in the fifteenth century, when Cologne's merchants "
        "dominated the wine trade with England.",
    ]
    scores = judge.score(question, passages)
    assert scores.shape == (2,) and scores.dtype == np.float32 and ((0 <= scores) & (scores <= 1)).all()
    assert scores[1] > scores[0]


@pytest.mark.e2e
def test_flags_an_unanswerable_pair_below_the_card_threshold(judge: OpenVinoJudge):
    passage = ("The coastal levy takes effect on 1 April 2025. It charges each port a fee per tonne of cargo "
               "landed, and the money funds sea defences along the eastern shore.")
    answerable, unanswerable = judge.score_pairs([
        ("When does the coastal levy take effect?", passage),
        ("How many lighthouses did the levy close in 1890?", passage),
    ])
    assert unanswerable < judge.threshold <= answerable
