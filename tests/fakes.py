"""Small, deterministic stand-ins for the heavy models, for fast unit tests."""

from __future__ import annotations

import hashlib
import re
from typing import Iterator, Sequence

import numpy as np

from rag.retrieve.judge import Reading

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Bag-of-words vectors via feature hashing: texts sharing words get similar vectors."""

    def __init__(self, dim: int = 64, id: str = "fake:hashing-64") -> None:
        self.dim = dim
        self.id = id

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class ScriptedGenerator:
    """Replies with scripted texts in order (the last one repeats) and records the prompts."""

    def __init__(self, replies: Sequence[str] = ("",), context_window: int = 4096) -> None:
        self.replies = list(replies)
        self.calls: list[list[dict[str, str]]] = []
        self.context_window = context_window
        self.info = {"llm": "scripted", "backend": "fake"}

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def stream(self, messages, *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        for piece in re.findall(r"\S+\s*|\s+", reply):
            yield piece


class KeywordJudge:
    """A judge that scores a passage by the share of the question's longer words it contains."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.id = "fake:keyword-judge"
        self.threshold = threshold
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        self.calls.append((question, list(passages)))
        wanted = {w for w in _WORD.findall(question.lower()) if len(w) > 3}
        return np.array([len(wanted & set(_WORD.findall(p.lower()))) / max(1, len(wanted)) for p in passages],
                        dtype=np.float32)

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """Its score, and as the answer span the passage's sentence that shares most of those words."""
        self.calls.append((question, list(passages)))
        wanted = {w for w in _WORD.findall(question.lower()) if len(w) > 3}
        out = []
        for p in passages:
            sentences = list(re.finditer(r"[^.!?\n]+[.!?]?", p))
            shared = [len(wanted & set(_WORD.findall(m[0].lower()))) for m in sentences]
            best = sentences[shared.index(max(shared))] if sentences and max(shared) else None
            prob = max(shared, default=0) / max(1, len(wanted))
            out.append(Reading(float(prob), best.start() if best else -1, best.end() if best else -1,
                               1.0 if best else float("-inf")))
        return out
