"""Judge protocol and the OpenVINO adapter for the project's own cross-encoder (see rag/models/judge).

A judge scores (question, passage) pairs: the probability that the passage answers the question.
A judge with a span head (the tracked one) also points at the answer inside each passage
(`Reading`): the character range of the best-scored span and its score against "no answer here".
The tracked model is checked at load: every file present and model.bin's sha256 equal to the one
in card.json, else ModelError naming the file; there is no fallback. Only `openvino` and
`tokenizers` are imported, and only on first use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from rag.errors import ModelError

REQUIRED_FILES = ("card.json", "model.xml", "model.bin", "tokenizer.json")
MAX_ANSWER_TOKENS = 30  # longest answer span considered (SQuAD answers are a few words)


@dataclass(frozen=True)
class Reading:
    """The judge's reading of one passage: P(answers) and where in the passage the answer is.

    `start`/`end` are character offsets into the passage (start == end == -1 when the model has no
    span head or the passage was all cut away); `span_margin` is the best span's start+end logit
    minus the [CLS] ("no answer") logits, as SQuAD 2.0 readers score it.
    """

    probability: float
    start: int
    end: int
    span_margin: float


@runtime_checkable
class Judge(Protocol):
    """Scores passages against a question."""

    id: str

    @property
    def threshold(self) -> float:
        """The probability below which the best passage is taken not to answer (calibrated)."""
        ...

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """P(passage answers question) for each passage, float32 in [0, 1], in input order."""
        ...

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """P(answers) and where the answer is, for each passage, in input order."""
        ...


def packaged_judge_path() -> Path:
    """Folder of the judge tracked in the repository (package data of rag.models)."""
    return Path(__file__).resolve().parent.parent / "models" / "judge"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(folder: Path) -> dict[str, Any]:
    """card.json of a judge folder, after checking its files and model.bin's sha256."""
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise ModelError(f"judge model incomplete: {folder / name} is missing")
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
        expected = card["files"]["model.bin"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"judge card {folder / 'card.json'} is unreadable: {exc}") from exc
    if file_sha256(folder / "model.bin") != expected:
        raise ModelError(f"judge weights {folder / 'model.bin'} do not match the sha256 in {folder / 'card.json'}")
    return card


def pair_tokenizer(path: Path, max_length: int) -> Any:
    """The fast tokenizer in `path` set to encode (question, passage) pairs, cutting the passage to fit."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ModelError(f"the judge needs the tokenizers package ({exc})") from exc
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, strategy="only_second")
    return tokenizer


class OpenVinoJudge:
    """The tracked cross-encoder on OpenVINO (CPU), loaded and verified on first use."""

    def __init__(self, path: Path | None = None, batch_size: int = 16, threads: int = 0) -> None:
        self.path = Path(path) if path is not None else packaged_judge_path()
        self.id = f"judge:{self.path.name}"
        self.batch_size = max(1, batch_size)
        self.threads = threads
        self.card: dict[str, Any] = {}
        self.max_length = 0
        self._compiled: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """The answerable threshold calibrated on held-back training questions (from card.json)."""
        self._load()
        if "answerable_threshold" not in self.card:
            raise ModelError(f"{self.path / 'card.json'} has no answerable_threshold: run bench/bench_judge.py")
        return float(self.card["answerable_threshold"])

    def _load(self) -> None:
        if self._compiled is not None:
            return
        with self._lock:
            if self._compiled is not None:
                return
            card = read_card(self.path)
            try:
                import openvino as ov
            except ImportError as exc:
                raise ModelError(f"the judge needs the openvino package ({exc})") from exc
            self.max_length = int(card["max_length"])
            tokenizer = pair_tokenizer(self.path / "tokenizer.json", self.max_length)
            config = {"PERFORMANCE_HINT": "LATENCY"}
            if self.threads:
                config["INFERENCE_NUM_THREADS"] = str(self.threads)
            try:
                compiled = ov.Core().compile_model(str(self.path / "model.xml"), "CPU", config)
            except RuntimeError as exc:
                raise ModelError(f"cannot load judge {self.path / 'model.xml'}: {exc}") from exc
            self.card, self._tokenizer = card, tokenizer
            self._compiled = compiled

    def encode(self, pairs: Sequence[tuple[str, str]]) -> list[Any]:
        """Token encodings of (question, passage) pairs, passages truncated to the trained length."""
        self._load()
        return self._tokenizer.encode_batch([(q, p) for q, p in pairs])

    def batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Row indices grouped into batches of similar length (longest first)."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(answers) for (question, passage) pairs, in input order."""
        if len(pairs) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.array([r.probability for r in self._run(pairs, spans=False)], dtype=np.float32)

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """P(answers) and the best answer span (character offsets) of each passage, in input order."""
        return self._run([(question, p) for p in passages], spans=True)

    def _run(self, pairs: Sequence[tuple[str, str]], spans: bool) -> list[Reading]:
        if len(pairs) == 0:
            return []
        encodings = self.encode(pairs)
        lengths = [len(e.ids) for e in encodings]
        logits = np.empty(len(pairs), dtype=np.float32)
        found: dict[int, tuple[int, int, float]] = {}
        with self._lock:
            for batch in self.batches(lengths):
                width = max(lengths[i] for i in batch)
                feeds = {n: np.zeros((len(batch), width), dtype=np.int64)
                         for n in ("input_ids", "attention_mask", "token_type_ids")}
                for row, i in enumerate(batch):
                    n = lengths[i]
                    feeds["input_ids"][row, :n] = encodings[i].ids
                    feeds["attention_mask"][row, :n] = 1
                    feeds["token_type_ids"][row, :n] = encodings[i].type_ids
                try:
                    outputs = self._compiled(feeds)
                except RuntimeError as exc:
                    raise ModelError(f"judge {self.path} failed: {exc}") from exc
                logits[batch] = np.asarray(outputs[0]).reshape(-1)
                if spans and len(outputs) >= 3:
                    starts, ends = np.asarray(outputs[1]), np.asarray(outputs[2])
                    for row, i in enumerate(batch):
                        found[i] = best_span(starts[row], ends[row], encodings[i].sequence_ids, encodings[i].offsets)
        probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        return [Reading(float(probs[i]), *found.get(i, (-1, -1, float("-inf")))) for i in range(len(pairs))]

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """P(passage answers question) for each passage, in input order."""
        return self.score_pairs([(question, p) for p in passages])


def best_span(start: np.ndarray, end: np.ndarray, sequence_ids: Sequence[int | None],
              offsets: Sequence[tuple[int, int]]) -> tuple[int, int, float]:
    """The passage span with the highest start + end logit (end not before start, at most
    MAX_ANSWER_TOKENS long), as (first char, end char, margin over the [CLS] "no answer" score)."""
    tokens = np.array([t for t, s in enumerate(sequence_ids) if s == 1], dtype=np.int64)
    if tokens.size == 0:
        return -1, -1, float("-inf")
    s, e = start[tokens], end[tokens]
    pair = s[:, None] + e[None, :]
    width = np.arange(tokens.size)[None, :] - np.arange(tokens.size)[:, None]
    pair[(width < 0) | (width >= MAX_ANSWER_TOKENS)] = -np.inf
    a, b = np.unravel_index(int(np.argmax(pair)), pair.shape)
    return (int(offsets[tokens[a]][0]), int(offsets[tokens[b]][1]),
            float(pair[a, b] - (start[0] + end[0])))
