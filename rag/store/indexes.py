"""The FAISS and BM25 indexes derived from the store, saved under generation-stamped names.

`vectors.g{N}.faiss` and `bm25.g{N}/` hold what SQLite held at generation N. A file for the
current generation is loaded as it is; otherwise the index is rebuilt from SQLite (after a crash,
or after another process changed the index) and saved with an atomic rename.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from rag.errors import IndexCorruptError
from rag.store.backend import ChunkFilter
from rag.store.manifest import fsync_dir, write_atomic
from rag.store.sqlite import DB_NAME, Store

log = logging.getLogger("rag.store")

FLAT_LIMIT = 50_000  # up to this many chunks search is exact (flat); past it an IVF index is built
IVF_CELLS_PER_SQRT = 2  # nlist = 2 * sqrt(n): about 630 cells at 100k chunks, 2,000 at 1M
IVF_TRAIN_PER_CELL = 40  # k-means training sample: 40 vectors per cell (at most n)
IVF_PROBE_FACTOR = 3  # nprobe = 3 * sqrt(nlist): 75 of 632 cells at 100k, 134 of 2,000 at 1M
IVF_MIN_PROBE = 16
EXACT_FILTER_LIMIT = 50_000  # a filter allowing at most this many chunks is searched exactly
_GEN_FILE = re.compile(r"^(vectors\.g(\d+)\.faiss|bm25\.g(\d+))$")


def ivf_settings(n: int) -> tuple[int, int]:
    """(nlist, nprobe) of the IVF index for n vectors."""
    nlist = max(64, int(IVF_CELLS_PER_SQRT * n ** 0.5))
    return nlist, min(nlist, max(IVF_MIN_PROBE, round(IVF_PROBE_FACTOR * nlist ** 0.5)))


class VectorIndex:
    """Inner-product search over unit vectors with chunk rowids as FAISS ids.

    Exact (flat) up to FLAT_LIMIT vectors; beyond, an inverted file (IVF-Flat, spherical k-means
    cells, nprobe = 3 * sqrt(nlist)) whose recall@10 against exact search measured 0.96-0.97 on
    MiniLM vectors at 100k and 1M (bench/bench_search_scale.py).
    """

    def __init__(self, index: Any, dim: int) -> None:
        self.index = index
        self.dim = dim

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int, flat_limit: int | None = None) -> "VectorIndex":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) > (FLAT_LIMIT if flat_limit is None else flat_limit):
            nlist, nprobe = ivf_settings(len(ids))
            inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            inner.cp.spherical = True
            inner.cp.niter = 10
            inner.cp.seed = 1234
            train = min(len(ids), nlist * IVF_TRAIN_PER_CELL)
            step = max(1, len(ids) // train)
            inner.train(vectors[::step][:train])
            inner.nprobe = nprobe
            inner.make_direct_map()
        else:
            inner = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(vectors, ids.astype(np.int64))
        return cls(index, dim)

    @property
    def _inner(self) -> Any:
        import faiss

        return faiss.downcast_index(self.index.index)

    @property
    def kind(self) -> str:
        """"flat" or "ivf"."""
        import faiss

        return "ivf" if isinstance(self._inner, faiss.IndexIVF) else "flat"

    def describe(self) -> dict[str, Any]:
        """The index's kind and search settings, e.g. {"kind": "ivf", "nlist": 2000, "nprobe": 62, "vectors": n}."""
        info: dict[str, Any] = {"kind": self.kind, "vectors": len(self), "dim": self.dim}
        if info["kind"] == "ivf":
            info.update(nlist=int(self._inner.nlist), nprobe=int(self._inner.nprobe))
        return info

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
        if index.d != dim or not hasattr(index, "id_map"):
            raise IndexCorruptError(f"{path}: a {index.d}-dimension {type(index).__name__}, not the "
                                    f"{dim}-dimension id-mapped index the store needs")
        return cls(index, dim)

    def held_ids(self) -> np.ndarray:
        """The chunk rowids the index holds."""
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, cosine scores) of the k nearest chunks, limited to `allowed` rowids if given."""
        import faiss

        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(self) == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return empty
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        kind = self.kind
        params = None
        if allowed is not None:
            if kind == "ivf" and len(allowed) <= EXACT_FILTER_LIMIT:
                return self._exact(q[0], k, allowed)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            if kind == "ivf":  # a broad filter: visit proportionally more cells
                inner = self._inner
                share = max(len(allowed) / len(self), 1e-6)
                params = faiss.SearchParametersIVF(sel=selector, nprobe=min(inner.nlist, int(inner.nprobe / share) + 1))
            else:
                params = faiss.SearchParameters(sel=selector)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query gains nothing from more threads, and loses much on a busy CPU
        try:
            scores, ids = self.index.search(q, min(k, len(self)), params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _exact(self, query: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(allowed, dtype=np.int64)
        try:
            vectors = self.index.reconstruct_batch(ids)
        except RuntimeError:  # an allowed id the index lacks: keep only those it holds
            ids = np.array([i for i in ids.tolist() if self._holds(i)], dtype=np.int64)
            if len(ids) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            vectors = self.index.reconstruct_batch(ids)
        scores = vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return ids[top], scores[top].astype(np.float32)

    def _holds(self, rowid: int) -> bool:
        try:
            self.index.reconstruct(int(rowid))
        except RuntimeError:
            return False
        return True


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
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexCorruptError(f"{folder}: {exc}") from exc
        documents = int(retriever.scores.get("num_docs", 0)) if len(ids) else 0
        if ids.ndim != 1 or documents != len(ids):
            raise IndexCorruptError(f"{folder}: {len(ids)} ids for {documents} BM25 documents")
        return cls(retriever, ids)

    def held_ids(self) -> np.ndarray:
        """The chunk rowids the index holds."""
        return self.ids

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
    """The derived indexes for one store generation: the `local` adapter of rag.store.backend.ChunkIndex."""

    generation: int
    vectors: VectorIndex
    keywords: KeywordIndex
    uri: str = "local"

    def candidates(self, store: Store, vector: np.ndarray | None, text: str | None, n: int,
                   where: ChunkFilter) -> tuple[dict[int, float], dict[int, float]]:
        """(dense, BM25) scores of the best n chunks each, the filter read from SQLite as rowids."""
        allowed = store.rowids_where(where.doc_ids, where.since, where.until) if where else None
        dense: dict[int, float] = {}
        bm25: dict[int, float] = {}
        if vector is not None:
            ids, scores = self.vectors.search(vector, n, allowed)
            dense = dict(zip(ids.tolist(), scores.tolist()))
        if text is not None:
            ids, scores = self.keywords.search(text, n, allowed)
            bm25 = dict(zip(ids.tolist(), scores.tolist()))
        return dense, bm25

    def apply(self, store: Store, doc_ids: Sequence[str]) -> None:
        """Nothing to do: the files of the next generation are rebuilt from SQLite (load_or_build)."""

    def stats(self) -> dict[str, Any]:
        return {"store": self.uri, "chunks": len(self.vectors), "vectors": self.vectors.describe(),
                "generation": self.generation}

    def close(self) -> None:
        """Nothing held open."""


def load_or_build(store: Store) -> SearchIndexes:
    """Load the derived indexes of the store's current generation, rebuilding them if missing.

    A derived file that cannot be read, or whose ids are not exactly the chunks SQLite holds, is
    rebuilt from SQLite and saved in its place (a warning on the `rag` logger names it).
    """
    folder = store.index_dir
    gen = store.generation
    vec_path, kw_path = folder / f"vectors.g{gen}.faiss", folder / f"bm25.g{gen}"
    fingerprint = store.chunk_fingerprint()
    vectors = _load_checked(vec_path, lambda: VectorIndex.load(vec_path, store.manifest.dim), fingerprint)
    keywords = _load_checked(kw_path, lambda: KeywordIndex.load(kw_path), fingerprint)
    if vectors is None:
        ids, vecs = store.vectors()
        vectors = VectorIndex.build(ids, vecs, store.manifest.dim)
    if keywords is None:
        kw_ids, texts = store.keyword_texts()
        keywords = KeywordIndex.build(kw_ids, texts)
    if store.generation == gen:  # nobody wrote meanwhile: what we built is generation `gen`
        try:
            if not vec_path.exists():
                vectors.save(vec_path)
            store.record_vector_index(vectors.describe())
            if not kw_path.exists():
                keywords.save(kw_path)
            _remove_other_generations(folder, gen)
        except PermissionError:
            pass  # a read-only index still answers from the in-memory build
    return SearchIndexes(gen, vectors, keywords)


_Derived = TypeVar("_Derived", "VectorIndex", "KeywordIndex")


def _load_checked(path: Path, load: Callable[[], _Derived], expected: tuple[int, int, int, int]) -> _Derived | None:
    """The derived index at `path` when it loads and holds exactly the expected chunk ids; else
    None, with the damaged file removed so that the rebuild can take its place."""
    if not path.exists():
        return None
    try:
        index = load()
        problem = None if _fingerprint(index.held_ids()) == expected else "its chunk ids differ from the store's"
    except IndexCorruptError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
    if problem is None:
        return index
    log.warning("%s was damaged (%s); rebuilt from %s", path, " ".join(problem.split())[:200], DB_NAME)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return None


def _fingerprint(ids: np.ndarray) -> tuple[int, int, int, int]:
    """(count, min, max, sum) of chunk rowids, as Store.chunk_fingerprint gives them."""
    if len(ids) == 0:
        return 0, 0, 0, 0
    ids = ids.astype(np.int64)
    return len(ids), int(ids.min()), int(ids.max()), int(ids.sum())


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
