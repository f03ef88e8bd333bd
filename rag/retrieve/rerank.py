"""Fused hits -> the same hits reordered with the judge: the project's cross-encoder reads each of
the top `depth` (question, chunk text) pairs; the hit's new score is `weight` x its probability
that the chunk answers plus (1 - weight) x the fused score (kept as `judge_score` and the
score). Hits below `depth` follow in their fused order with their fused scores; they are there
only when more hits than `depth` were asked for.

The cost grows with depth: `bench/bench_judge.py` prints the depth/latency rows that set
Settings.rerank_depth.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.retrieve.judge import Judge, OpenVinoJudge
from rag.types import Hit

_JUDGES: dict[tuple[str, int], Judge] = {}
_JUDGES_LOCK = threading.Lock()


def load_judge(settings: Settings) -> Judge:
    """The judge in Settings.judge_path, loaded once per process (checked against its card on first use)."""
    key = (str(settings.judge_path.resolve()), settings.threads)
    with _JUDGES_LOCK:
        if key not in _JUDGES:
            _JUDGES[key] = OpenVinoJudge(settings.judge_path, threads=settings.threads)
        return _JUDGES[key]


def rerank(question: str, hits: Sequence[Hit], judge: Judge, depth: int, weight: float = 1.0) -> list[Hit]:
    """`hits` reordered by `weight` x judge probability + (1 - weight) x fused score (best first,
    ranks from 1); ties keep the fused order."""
    head, tail = list(hits[:depth]), list(hits[depth:])
    if not head:
        return []
    probs = np.asarray(judge.score(question, [h.chunk.text for h in head]), dtype=np.float64)
    fused = np.array([h.score for h in head], dtype=np.float64)
    scores = weight * probs + (1.0 - weight) * fused
    order = np.argsort(-scores, kind="stable")
    judged = [dataclasses.replace(head[i], score=round(float(scores[i]), 6), judge_score=float(probs[i]))
              for i in order]
    return [dataclasses.replace(h, rank=r) for r, h in enumerate(judged + tail, 1)]
