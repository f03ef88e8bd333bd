"""briefing-rag: ask questions of, and summarise, a folder of briefing documents, offline,
with citations the system itself verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer", "AnswerSentence", "Assistant", "Brief", "Chunk", "Citation", "Claim", "Document", "DocumentInfo",
    "Hit", "IngestReport", "RagError", "Settings", "serialize",
]

from rag.config import Settings
from rag.errors import RagError
from rag.types import Answer, AnswerSentence, Brief, Chunk, Citation, Claim, Document, DocumentInfo, Hit, IngestReport

if TYPE_CHECKING:
    from rag.assistant import Assistant


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from rag.assistant import Assistant

        return Assistant
    if name == "serialize":
        import importlib

        return importlib.import_module("rag.serialize")
    raise AttributeError(name)
