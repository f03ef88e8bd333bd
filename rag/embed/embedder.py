"""Embedder protocol and the sentence-transformers adapter (heavy imports are lazy)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from rag.config import PACKAGED_EMBEDDER, Settings, configure_offline, packaged_embedder_path
from rag.errors import ConfigError, ModelError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    id: str  # stable model identity recorded in the index manifest
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages, shape (len(texts), dim), float32, unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Vector for one query, shape (dim,), float32, unit length."""
        ...


PACKAGED_EMBEDDER_ID = "sentence-transformers/all-MiniLM-L6-v2"
_CONFIG_FILES = (
    "modules.json",
    "config.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?")


class SentenceTransformerEmbedder:
    """Embedder backed by a local sentence-transformers model, loaded on first use, on CPU."""

    def __init__(self, model_name_or_path: str, model_id: str, backend: str = "torch", batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ConfigError(f"embed_batch_size must be at least 1, not {batch_size}")
        self.model_name_or_path = str(model_name_or_path)
        self.id = model_id
        self.backend = backend
        self.batch_size = batch_size
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Vector width, known once the model is loaded (this loads it)."""
        self._load()
        assert self._dim is not None
        return self._dim

    def load(self) -> None:
        """Load the model now rather than on the first embed."""
        self._load()

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._open()
        return self._model

    def _open(self) -> Any:
        name = self.model_name_or_path
        path = Path(name).expanduser()
        if path.is_dir() and not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise ModelError(
                f"embedder folder {name} holds no model (no modules.json or config.json): "
                "pass a sentence-transformers model folder or run `make setup` for the packaged model"
            )
        if _looks_like_path(name) and not path.is_dir():
            raise ModelError(
                f"embedder folder {name} not found: pass a sentence-transformers model folder "
                "(--embedder / RAG_EMBEDDER) or run `make setup` for the packaged model"
            )
        configure_offline()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"sentence-transformers is not installed ({exc}): run `make setup`") from exc
        _quiet_transformers()
        torch.set_num_threads(os.cpu_count() or 1)
        try:
            model = SentenceTransformer(
                str(path) if path.is_dir() else name, device="cpu", local_files_only=True, backend=self.backend
            )
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = get_dim()
        except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ModelError(
                f"cannot load embedder {name} ({type(exc).__name__}: {_first_line(exc)}): "
                "pass a sentence-transformers model folder (with modules.json) or run `make setup`"
            ) from exc
        if not dim:
            raise ModelError(f"embedder {name} does not report an embedding dimension")
        self._dim = int(dim)
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit float32 vectors for `texts`, in input order; batches hold texts of similar length."""
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique: dict[str, int] = {}
        for text in texts:
            unique.setdefault(text, len(unique))
        distinct = list(unique)
        order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
        vectors = np.empty((len(distinct), self.dim), dtype=np.float32)
        try:
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                out = model.encode(
                    [distinct[i] for i in idx],
                    batch_size=len(idx),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                vectors[idx] = np.asarray(out, dtype=np.float32)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"embedder {self.id} failed: {exc}") from exc
        return vectors[[unique[t] for t in texts]]

    def embed_query(self, text: str) -> np.ndarray:
        """Unit float32 vector for one query."""
        return self.embed([text])[0]


def _quiet_transformers() -> None:
    """Hide the per-load "Loading weights" progress bar of transformers (stderr noise on every command)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else "no details"


def _looks_like_path(name: str) -> bool:
    """True unless `name` reads as a hub id ("org/model" or "model")."""
    return not _HUB_NAME.fullmatch(name)


def _config_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for rel in _CONFIG_FILES:
        file = folder / rel
        if file.is_file():
            digest.update(rel.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:10]


def embedder_id(settings: Settings) -> str:
    """Stable identity of the configured embedder, recorded in (and checked against) the index manifest.

    The packaged model is "sentence-transformers/all-MiniLM-L6-v2"; a local folder is its name plus a
    short hash of its configuration files ("my-model@1a2b3c4d5e"); a hub-style name is the name itself.
    """
    if settings.embedder == PACKAGED_EMBEDDER:
        return PACKAGED_EMBEDDER_ID
    path = Path(settings.embedder).expanduser()
    if path.is_dir():
        try:
            if path.resolve() == packaged_embedder_path().resolve():
                return PACKAGED_EMBEDDER_ID
        except ConfigError:
            pass
        return f"{path.resolve().name}@{_config_hash(path)}"
    if _looks_like_path(settings.embedder):
        raise ModelError(
            f"embedder folder {settings.embedder} not found: pass a sentence-transformers model folder "
            "(--embedder / RAG_EMBEDDER) or run `make setup` for the packaged model"
        )
    return settings.embedder


_CACHE: dict[tuple[str, str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder `settings` describe; one shared (lazily loaded) instance per model/backend/weights/batch.

    `auto` runs the model on OpenVINO (exported locally from the sentence-transformers folder and
    cached; same vectors as PyTorch to a cosine above 0.999) when openvino is installed and the
    model's pipeline is one it exports, else on PyTorch. On OpenVINO the weights are int8
    (`embed_precision` auto: quantised once by NNCF into the cache) or fp32. Every combination keeps
    the model's index identity: int8 vectors stay within a cosine of 0.98 of fp32 and SciFact
    nDCG@10 within 1% with the index and the queries on either precision (README "Embeddings").
    """
    from rag.embed.backends import make_fast_embedder, resolve_backend, resolve_weights

    model_id = embedder_id(settings)
    backend = resolve_backend(settings.embed_backend, settings.embedder_path)
    if backend == "torch" and settings.embed_precision == "int8":
        raise ConfigError("embed_precision int8 runs on the openvino backend only: "
                          "set RAG_EMBED_BACKEND=openvino (or auto), or RAG_EMBED_PRECISION=fp32")
    weights = "fp32" if backend == "torch" else resolve_weights(settings.embed_precision, settings.embedder_path)
    key = (settings.embedder_path, f"{backend}/{weights}", settings.embed_batch_size)
    with _CACHE_LOCK:
        embedder = _CACHE.get(key)
        if embedder is None:
            if backend == "torch":
                embedder = SentenceTransformerEmbedder(settings.embedder_path, model_id, backend,
                                                       settings.embed_batch_size)
            else:
                embedder = make_fast_embedder(settings.embedder_path, model_id, backend, settings.embed_batch_size,
                                              weights)
            _CACHE[key] = embedder
    return embedder
