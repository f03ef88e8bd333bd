"""Judge protocol and the OpenVINO adapter for the project's own cross-encoder (see rag/models/judge).

A judge scores (question, passage) pairs: the probability that the passage answers the question.
The tracked model is checked at load: every file present and model.bin's sha256 equal to the one
in card.json, else ModelError naming the file; there is no fallback. Only `openvino` and
`tokenizers` are imported, and only on first use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from rag.errors import ModelError

REQUIRED_FILES = ("card.json", "model.xml", "model.bin", "tokenizer.json")


@runtime_checkable
class Judge(Protocol):
    """Scores passages against a question."""

    id: str

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """P(passage answers question) for each passage, float32 in [0, 1], in input order."""
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
        encodings = self.encode(pairs)
        lengths = [len(e.ids) for e in encodings]
        logits = np.empty(len(pairs), dtype=np.float32)
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
                    logits[batch] = np.asarray(self._compiled(feeds)[0]).reshape(-1)
                except RuntimeError as exc:
                    raise ModelError(f"judge {self.path} failed: {exc}") from exc
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """P(passage answers question) for each passage, in input order."""
        return self.score_pairs([(question, p) for p in passages])
