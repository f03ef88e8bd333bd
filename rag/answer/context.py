"""What the answer and summary stages need from the Assistant, as a small protocol.

The stages receive this context instead of the Assistant itself, so they never import it:
only `rag.assistant` knows the order of the stages.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.generate.generator import Generator
from rag.retrieve.judge import Judge
from rag.types import Document, Hit


class StageContext(Protocol):
    """The models, settings, search and model lock that answer and summary stages use."""

    settings: Settings
    generation_lock: AbstractContextManager[Any]  # rag.generate.generator.MODEL_LOCK

    @property
    def index_dir(self) -> Path: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def generator(self) -> Generator: ...

    @property
    def judge(self) -> Judge | None: ...

    def search(self, query: str, k: int | None = None, mode: str | None = None, doc_ids: Sequence[str] = (),
               since: str | None = None, until: str | None = None, rerank: bool | None = None,
               as_of: str | None = None) -> list[Hit]: ...

    def model_info(self) -> Mapping[str, Any]: ...

    def stats(self) -> Mapping[str, Any]: ...

    def document(self, doc_id: str) -> Document: ...
