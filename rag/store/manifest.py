"""The index folder's small files: the manifest (what the index was built with) and the atomic
write that every derived file goes through (readers see the old file or the new one, never half)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexCorruptError


@dataclass(frozen=True)
class Manifest:
    """What an index was built with; opening it with something else is an error."""

    format_version: int
    embedder_id: str
    dim: int
    chunking: str  # e.g. "structure-v1/200/40"
    created: float
    vector_index: dict | None = None  # the derived FAISS index's kind and settings, once built

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "format_version": self.format_version,
            "embedder": {"id": self.embedder_id, "dim": self.dim},
            "chunking": self.chunking,
            "created": self.created,
        }
        if self.vector_index is not None:
            data["vector_index"] = self.vector_index
        return data

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "Manifest":
        try:
            return cls(
                format_version=int(data["format_version"]),
                embedder_id=str(data["embedder"]["id"]),
                dim=int(data["embedder"]["dim"]),
                chunking=str(data["chunking"]),
                created=float(data.get("created", 0.0)),
                vector_index=dict(data["vector_index"]) if isinstance(data.get("vector_index"), dict) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"{path}: manifest is unreadable ({exc}); rebuild the index") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
