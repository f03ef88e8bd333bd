"""Reranking fused hits with a judge (fast, with a fake judge)."""

from __future__ import annotations

from rag.retrieve.rerank import rerank
from rag.types import Chunk, Hit
from tests.fakes import KeywordJudge


def hit(rank: int, text: str, title: str = "Note") -> Hit:
    chunk = Chunk(f"c{rank}", f"d{rank}", 0, text, 0, len(text))
    return Hit(rank, 1.0 / rank, chunk, f"d{rank}.txt", title)


HITS = [hit(1, "Ports and harbours of the north."), hit(2, "The coastal levy takes effect in January 2027."),
        hit(3, "Storage targets for grid batteries."), hit(4, "Fishing quotas were cut.")]


def test_rerank_orders_the_judged_head_and_keeps_the_tail() -> None:
    judge = KeywordJudge()
    out = rerank("When does the coastal levy take effect?", HITS, judge, depth=3)
    assert [h.chunk_id for h in out] == ["c2", "c1", "c3", "c4"]
    assert [h.rank for h in out] == [1, 2, 3, 4]
    assert out[0].judge_score == out[0].score == 0.5  # coastal, levy, effect of six longer words
    assert out[3].judge_score is None and out[3].score == HITS[3].score  # below depth: fused order and score
    assert judge.calls == [("When does the coastal levy take effect?", [h.chunk.text for h in HITS[:3]])]
    assert rerank("q", [], judge, depth=3) == []


def test_ties_keep_the_fused_order() -> None:
    out = rerank("unrelated words entirely", HITS, KeywordJudge(), depth=4)
    assert [h.chunk_id for h in out] == ["c1", "c2", "c3", "c4"]


def test_a_weight_below_one_blends_the_judge_with_the_fused_score() -> None:
    hits = [hit(1, "Ports and harbours of the north."), hit(2, "The coastal levy takes effect in January 2027.")]
    hits[1] = Hit(2, 0.2, hits[1].chunk, hits[1].path, hits[1].title)
    question = "When does the coastal levy take effect?"
    alone = rerank(question, hits, KeywordJudge(), depth=2, weight=1.0)
    blended = rerank(question, hits, KeywordJudge(), depth=2, weight=0.2)
    assert [h.chunk_id for h in alone] == ["c2", "c1"]
    assert [h.chunk_id for h in blended] == ["c1", "c2"]  # 0.8 x 1.0 beats 0.2 x 0.5 + 0.8 x 0.2
    assert blended[1].judge_score == 0.5 and blended[1].score == round(0.2 * 0.5 + 0.8 * 0.2, 6)
