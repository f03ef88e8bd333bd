"""What the shells (CLI, server) and their test fakes rely on: the Assistant's public surface as
protocols. Light on purpose: importing it loads no model library, so `rag --help` stays instant."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from rag.config import Settings
from rag.types import Answer, Brief, Document, DocumentInfo, Hit, IngestReport, Message, TokenCallback

if TYPE_CHECKING:
    from rag.store.writer import Progress


@runtime_checkable
class ChatAPI(Protocol):
    """A conversation whose follow-ups are rewritten to stand alone."""

    history: list[Message]
    last: Answer | None

    def ask(self, question: str, k: int | None = None, on_token: TokenCallback | None = None) -> Answer: ...

    def reset(self) -> None: ...


@runtime_checkable
class AssistantAPI(Protocol):
    """The operations `rag` and the server call; `rag.assistant.Assistant` is the real one.

    Calls may come from several threads at once: `ask`, `summarize`, `brief` and chat turns
    serialise their generation on rag.generate.generator.MODEL_LOCK (the server's queue relies on it).
    """

    settings: Settings

    def stats(self) -> dict[str, int]: ...

    def model_info(self) -> dict[str, str]: ...

    def ingest(self, paths: Sequence[str | Path], exclude: Sequence[str] = (),
               progress: "Progress | None" = None, ray: str | None = None) -> IngestReport: ...

    def documents(self) -> list[DocumentInfo]: ...

    def document(self, doc_id: str) -> Document: ...

    def remove(self, doc_id_or_path: str) -> list[str]: ...

    def search(self, query: str, k: int | None = None, mode: str | None = None, doc_ids: Sequence[str] = (),
               since: str | None = None, until: str | None = None) -> list[Hit]: ...

    def ask(self, question: str, k: int | None = None, doc_ids: Sequence[str] = (),
            history: Sequence[Message] = (), on_token: TokenCallback | None = None) -> Answer: ...

    def chat(self) -> ChatAPI: ...

    def summarize(self, doc_ids: Sequence[str] = (), on_token: TokenCallback | None = None,
                  progress: "Progress | None" = None) -> Answer: ...

    def brief(self, doc_ids: Sequence[str] = (), progress: "Progress | None" = None) -> Brief: ...

