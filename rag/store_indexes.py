"""The FAISS and BM25 indexes derived from the store, saved under generation-stamped names.

`vectors.g{N}.faiss` and `bm25.g{N}/` hold what SQLite held at generation N. A file for the
current generation is loaded as it is; otherwise the index is rebuilt from SQLite (after a crash,
or after another process changed the index) and saved with an atomic rename.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError
from .store import Store, fsync_dir, write_atomic

FLAT_LIMIT = 200_000  # past this many chunks an HNSW graph replaces exact search
HNSW_M = 32
HNSW_EF_SEARCH = 128
_GEN_FILE = re.compile(r"^(vectors\.g(\d+)\.faiss|bm25\.g(\d+))$")


class VectorIndex:
    """Inner-product search over unit vectors with chunk rowids as FAISS ids."""

    def __init__(self, index: Any, dim: int) -> None:
        self.index = index
        self.dim = dim

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int) -> "VectorIndex":
        import faiss

        if len(ids) > FLAT_LIMIT:
            inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        return cls(index, dim)

    @property
    def kind(self) -> str:
        import faiss

        inner = faiss.downcast_index(self.index.index)
        return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def save(self, path: Path) -> None:
        import faiss

        write_atomic(path, faiss.serialize_index(self.index).tobytes())

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        import faiss

        try:
            index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
        except (RuntimeError, OSError) as exc:
            raise IndexCorruptError(f"{path}: {exc}") from exc
        return cls(index, dim)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, cosine scores) of the k nearest chunks, limited to `allowed` rowids if given."""
        import faiss

        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k)) \
                if self.kind == "hnsw" else faiss.SearchParameters(sel=selector)
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
        scores, ids = self.index.search(q, min(k, len(self)), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


class KeywordIndex:
    """BM25 (bm25s, English stemming and stop words) over chunk title + heading + text."""

    def __init__(self, retriever: Any, ids: np.ndarray) -> None:
        self.retriever = retriever
        self.ids = ids
        self._pos = {int(r): i for i, r in enumerate(ids)}

    @staticmethod
    def _stemmer() -> Any:
        import Stemmer

        return Stemmer.Stemmer("english")

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> "KeywordIndex":
        import bm25s

        retriever = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=cls._stemmer(), show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(retriever, ids)

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, folder: Path) -> None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        if len(self.ids):
            self.retriever.save(str(tmp), show_progress=False)
        with open(tmp / "ids.npy", "wb") as fh:
            np.save(fh, self.ids)
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process saved the same generation first
            shutil.rmtree(tmp, ignore_errors=True)
        fsync_dir(folder.parent)

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        import bm25s

        try:
            ids = np.load(folder / "ids.npy")
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if len(ids) else bm25s.BM25()
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"{folder}: {exc}") from exc
        return cls(retriever, ids)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, BM25 scores > 0) of the best k chunks, limited to `allowed` rowids if given."""
        import bm25s

        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer(), show_progress=False,
                                return_ids=False)
        vocab = self.retriever.vocab_dict
        words = [t for t in tokens[0] if t in vocab]
        if not words:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=np.float32)
            pos = [self._pos[int(a)] for a in allowed if int(a) in self._pos]
            if not pos:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            mask[pos] = 1.0
        docs, scores = self.retriever.retrieve([words], k=min(k, len(self.ids)), show_progress=False,
                                               weight_mask=mask, n_threads=1)
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        return self.ids[docs[keep]], scores[keep].astype(np.float32)


@dataclass
class SearchIndexes:
    """The derived indexes for one store generation."""

    generation: int
    vectors: VectorIndex
    keywords: KeywordIndex


def load_or_build(store: Store) -> SearchIndexes:
    """Load the derived indexes of the store's current generation, rebuilding them if missing."""
    folder = store.index_dir
    gen = store.generation
    vec_path, kw_path = folder / f"vectors.g{gen}.faiss", folder / f"bm25.g{gen}"
    if vec_path.exists() and (kw_path / "ids.npy").exists():
        return SearchIndexes(gen, VectorIndex.load(vec_path, store.manifest.dim), KeywordIndex.load(kw_path))
    ids, vecs = store.vectors()
    kw_ids, texts = store.keyword_texts()
    vectors = VectorIndex.build(ids, vecs, store.manifest.dim)
    keywords = KeywordIndex.build(kw_ids, texts)
    if store.generation == gen:  # nobody wrote meanwhile: what we built is generation `gen`
        try:
            vectors.save(vec_path)
            if not kw_path.exists():
                keywords.save(kw_path)
            _remove_other_generations(folder, gen)
        except PermissionError:
            pass  # a read-only index still answers from the in-memory build
    return SearchIndexes(gen, vectors, keywords)


def _remove_other_generations(folder: Path, keep: int) -> None:
    for entry in folder.iterdir():
        m = _GEN_FILE.match(entry.name)
        if not m:
            continue
        gen = int(m.group(2) or m.group(3))
        if gen == keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
