"""The tracked judge: verified at load, ranks an answering passage first, flags an unanswerable pair."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelError
from rag.retrieve.judge import Judge, OpenVinoJudge, best_span, packaged_judge_path, pair_tokenizer, read_card

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


def test_best_span_keeps_order_and_length_and_measures_against_no_answer():
    # tokens: [CLS] q [SEP] p0 p1 p2 [SEP]; passage tokens 3..5 at characters 0-3, 4-8, 9-12
    sequence_ids = [None, 0, None, 1, 1, 1, None]
    offsets = [(0, 0), (0, 3), (0, 0), (0, 3), (4, 8), (9, 12), (0, 0)]
    start = np.array([1.0, 9.0, 0.0, 0.5, 3.0, 0.0, 0.0])
    end = np.array([1.0, 9.0, 0.0, 0.0, 0.0, 2.0, 9.0])  # question and [SEP] tokens never count
    assert best_span(start, end, sequence_ids, offsets) == (4, 12, 3.0)  # p1..p2: 3 + 2 - (1 + 1)
    start[5], end[4] = 9.0, 9.0  # p2 -> p1 would score 18 but ends before it starts
    assert best_span(start, end, sequence_ids, offsets) == (4, 8, 10.0)  # p1 alone: 3 + 9 - 2
    assert best_span(start, end, [None, 0, None], offsets[:3]) == (-1, -1, float("-inf"))


def test_read_returns_spans_in_input_order_from_the_three_outputs():
    judge = OpenVinoJudge(MODEL, batch_size=2)
    judge._tokenizer = pair_tokenizer(MODEL / "tokenizer.json", 32)

    def compiled(feeds):
        ids = feeds["input_ids"]
        start = np.where(ids == 1996, 5.0, 0.0)  # the token "the"
        return [np.zeros(len(ids), dtype=np.float32), start, start.copy()]

    judge._compiled = compiled
    passages = ["see the port", "the", "no article here"]
    got = judge.read("q", passages)
    assert [(r.start, r.end) for r in got] == [(4, 7), (0, 3), (0, 2)]
    assert [r.probability for r in got] == [0.5, 0.5, 0.5] and got[2].span_margin == 0.0


@pytest.mark.e2e
def test_points_at_the_answer_inside_the_passage(judge: OpenVinoJudge):
    passage = ("The coastal levy was debated for two years. It takes effect on 1 April 2025, after a vote in the "
               "regional assembly. Ports pay a fee per tonne of cargo landed.")
    reading = judge.read("When does the coastal levy take effect?", [passage])[0]
    assert "1 April 2025" in passage[reading.start:reading.end + 12] or "2025" in passage[reading.start:reading.end]
    assert reading.span_margin > 0 and reading.probability >= judge.threshold
