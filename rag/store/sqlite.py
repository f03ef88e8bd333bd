"""Persistence: SQLite holds documents, chunks and embeddings (the truth); FAISS and BM25 are
derived files stamped with the SQLite generation they were built from, written atomically.

Crash safety: every document is replaced in one SQLite transaction, so a `kill -9` leaves each
document in its old or its new state. The derived indexes name their generation in their file
names; on open, a missing or stale one is rebuilt from SQLite, so the index always loads and a
re-run of the ingest converges to what a clean ingest gives.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rag.errors import (
    ConfigError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexMissingError,
    NotFoundError,
)
from rag.store.manifest import Manifest, write_atomic
from rag.types import Chunk, Document, DocumentInfo, Page, Section

FORMAT_VERSION = 1
DB_NAME = "rag.sqlite"
MANIFEST_NAME = "manifest.json"
_REBUILD = "rebuild it: move {index_dir} aside, then `rag ingest` your documents again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, title TEXT NOT NULL, date TEXT,
    sha256 TEXT NOT NULL, mtime REAL NOT NULL, format TEXT NOT NULL, text TEXT NOT NULL,
    pages TEXT NOT NULL, sections TEXT NOT NULL, chunking TEXT NOT NULL, ingested_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER,
    heading TEXT, text TEXT NOT NULL, embed_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS embeddings (embed_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


class Store:
    """The SQLite side of an index directory. Thread-safe for one writer and many readers."""

    def __init__(self, index_dir: Path, conn: sqlite3.Connection, manifest: Manifest) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self._conn = conn
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, index_dir: Path, embedder_id: str | None = None, dim: int | None = None,
             chunking: str | None = None, create: bool = False) -> "Store":
        """Open (or, with `create`, make) the index in `index_dir`, checking the embedder."""
        index_dir = Path(index_dir)
        db_path = index_dir / DB_NAME
        manifest_path = index_dir / MANIFEST_NAME
        if index_dir.exists() and not index_dir.is_dir():
            raise ConfigError(f"--index {index_dir} is a file, not a folder: pass a folder (it is created if missing)")
        if not db_path.exists() or not manifest_path.exists():
            if not create:
                raise IndexMissingError(
                    f"no index in {index_dir}: run `rag ingest PATH...` first (or pass --index DIR)")
            if embedder_id is None or dim is None or chunking is None:
                raise ValueError("creating an index needs embedder_id, dim and chunking")
            index_dir.mkdir(parents=True, exist_ok=True)
            manifest = Manifest(FORMAT_VERSION, embedder_id, dim, chunking, time.time())
            conn = _connect(db_path)
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            write_atomic(manifest_path, json.dumps(manifest.to_json(), indent=2).encode())
            return cls(index_dir, conn, manifest)
        try:
            manifest = Manifest.from_json(json.loads(manifest_path.read_text()), manifest_path)
        except (OSError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"{manifest_path}: cannot read the manifest ({exc})") from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index in {index_dir} has format version {manifest.format_version}, this rag reads "
                f"{FORMAT_VERSION}: rebuild it (delete the folder, then `rag ingest` your documents again)")
        if embedder_id is not None and embedder_id != manifest.embedder_id:
            raise IndexMismatchError(
                f"index in {index_dir} was built with embedder {manifest.embedder_id!r}, not {embedder_id!r}: "
                f"use --embedder {manifest.embedder_id} (or RAG_EMBEDDER), or rebuild with the new one: "
                f"delete {index_dir} and run `rag ingest` again")
        if db_path.stat().st_size == 0:
            raise IndexCorruptError(f"{db_path} is empty (0 bytes) beside {manifest_path}: "
                                    + _REBUILD.format(index_dir=index_dir))
        try:
            conn = _connect(db_path)
            if conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone() is None:
                raise IndexCorruptError(f"{db_path} has no generation record: " + _REBUILD.format(index_dir=index_dir))
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT length(vector) FROM embeddings LIMIT 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{db_path}: {exc}; " + _REBUILD.format(index_dir=index_dir)) from exc
        if row is not None and row[0] != 4 * manifest.dim:
            conn.close()
            raise IndexCorruptError(
                f"{manifest_path} gives embedding dimension {manifest.dim} but {db_path} holds vectors of "
                f"{row[0] // 4}: {_REBUILD.format(index_dir=index_dir)}")
        if dim is not None and dim != manifest.dim:
            conn.close()
            raise IndexMismatchError(f"index in {index_dir} holds {manifest.dim}-dimension vectors; the embedder "
                                     f"gives {dim}: " + _REBUILD.format(index_dir=index_dir))
        return cls(index_dir, conn, manifest)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record_vector_index(self, info: dict) -> None:
        """Write the derived vector index's kind and settings (VectorIndex.describe()) into the manifest."""
        if info == self.manifest.vector_index:
            return
        self.manifest = replace(self.manifest, vector_index=dict(info))
        write_atomic(self.index_dir / MANIFEST_NAME, json.dumps(self.manifest.to_json(), indent=2).encode())

    # -- write lock across processes ------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's exclusive write lock (one ingest at a time, across processes)."""
        import fcntl

        lock_path = self.index_dir / ".write.lock"
        with open(lock_path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexLockedError(f"another process is writing to the index in {self.index_dir}") from exc
            try:
                with self._lock:
                    yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- reads ---------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the index."""
        with self._lock:
            docs = self._conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, ordered by path."""
        sql = ("SELECT d.doc_id, d.path, d.title, d.date, d.sha256, d.pages, d.format, d.mtime, "
               "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id) FROM documents d ORDER BY d.path")
        with self._lock:
            rows = self._conn.execute(sql).fetchall()
        return [DocumentInfo(doc_id=r[0], path=r[1], title=r[2], date=r[3], sha256=r[4],
                             pages=len(json.loads(r[5])), chunks=int(r[8]), format=r[6], mtime=r[7])
                for r in rows]

    def document_state(self) -> dict[str, tuple[str, str, str]]:
        """path -> (doc_id, sha256, chunking signature) for the incremental ingest."""
        with self._lock:
            rows = self._conn.execute("SELECT path, doc_id, sha256, chunking FROM documents").fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def document(self, doc_id: str) -> Document:
        """The stored document with its full extracted text."""
        with self._lock:
            row = self._conn.execute(
                "SELECT doc_id, path, title, date, text, sha256, mtime, pages, sections, format "
                "FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r} in the index in {self.index_dir} (see `rag docs`)")
        pages = tuple(Page(*p) for p in json.loads(row[7]))
        sections = tuple(Section(*s) for s in json.loads(row[8]))
        return Document(doc_id=row[0], path=row[1], title=row[2], date=row[3], text=row[4], sha256=row[5],
                        mtime=row[6], pages=pages, sections=sections, format=row[9])

    def resolve_doc(self, doc_id_or_path: str) -> str:
        """A doc_id from a doc_id, an indexed path, or a path relative to the working directory."""
        with self._lock:
            row = self._conn.execute("SELECT doc_id FROM documents WHERE doc_id = ?", (doc_id_or_path,)).fetchone()
            if row is None:
                path = str(Path(doc_id_or_path).expanduser().resolve())
                row = self._conn.execute("SELECT doc_id FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id_or_path!r} in the index in {self.index_dir} (see `rag docs`)")
        return str(row[0])

    def chunks(self, doc_ids: Sequence[str] | None = None) -> list[Chunk]:
        """Chunks of the given documents (all when None), in document and reading order."""
        sql = ('SELECT chunk_id, doc_id, ordinal, text, start, "end", page, heading FROM chunks')
        with self._lock:
            if doc_ids is None:
                rows = self._conn.execute(sql + " ORDER BY doc_id, ordinal").fetchall()
            else:
                rows = []
                for doc_id in doc_ids:
                    rows += self._conn.execute(sql + " WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
        return [_chunk(r) for r in rows]

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, tuple[Chunk, str, str, str | None]]:
        """rowid -> (chunk, path, title, date) for the given FAISS/BM25 ids."""
        out: dict[int, tuple[Chunk, str, str, str | None]] = {}
        ids = [int(i) for i in rowids]
        sql = ('SELECT c.id, c.chunk_id, c.doc_id, c.ordinal, c.text, c.start, c."end", c.page, c.heading, '
               'd.path, d.title, d.date FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({})')
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                for r in self._conn.execute(sql.format(",".join("?" * len(part))), part):
                    out[int(r[0])] = (_chunk(r[1:9]), r[9], r[10], r[11])
        return out

    def rowids_where(self, doc_ids: Sequence[str] | None, since: str | None, until: str | None) -> np.ndarray:
        """Chunk rowids of documents passing the filters (a date filter drops undated documents)."""
        clauses, args = [], []
        if doc_ids:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})")
            args += list(doc_ids)
        if since:
            clauses.append("d.date IS NOT NULL AND d.date >= ?")
            args.append(since)
        if until:
            clauses.append("d.date IS NOT NULL AND d.date <= ?")
            args.append(until)
        where = " AND ".join(clauses) or "1"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT c.id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {where}", args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def chunk_fingerprint(self) -> tuple[int, int, int, int]:
        """(count, min, max, sum) of the chunk rowids: what a derived index must hold."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*), MIN(id), MAX(id), SUM(id) FROM chunks").fetchone()
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3])) if row[0] else (0, 0, 0, 0)

    def dates_by_rowid(self, rowids: Sequence[int]) -> dict[int, str | None]:
        """rowid -> the date of the chunk's document (None when undated)."""
        ids = [int(i) for i in rowids]
        out: dict[int, str | None] = {}
        sql = "SELECT c.id, d.date FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({})"
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                out.update((int(r[0]), r[1]) for r in self._conn.execute(sql.format(",".join("?" * len(part))), part))
        return out

    def newest_date(self) -> str | None:
        """The latest document date in the index (None when no document is dated)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(date) FROM documents").fetchone()
        return row[0] if row else None

    def vectors(self, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, vectors) of all chunks, or of the given rowids, in rowid order."""
        sql = "SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.embed_hash = c.embed_hash"
        with self._lock:
            if rowids is None:
                rows = self._conn.execute(sql + " ORDER BY c.id").fetchall()
            else:
                ids = [int(i) for i in rowids]
                rows = []
                for i in range(0, len(ids), 500):
                    part = ids[i:i + 500]
                    rows += self._conn.execute(sql + f" WHERE c.id IN ({','.join('?' * len(part))})", part).fetchall()
                rows.sort()
        dim = self.manifest.dim
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vecs

    def keyword_texts(self) -> tuple[np.ndarray, list[str]]:
        """(rowids, title + heading + text) of all chunks in rowid order, for the BM25 index."""
        sql = ('SELECT c.id, d.title, c.heading, c.text FROM chunks c JOIN documents d ON d.doc_id = c.doc_id '
               'ORDER BY c.id')
        with self._lock:
            rows = self._conn.execute(sql).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, [keyword_text(r[1], r[2], r[3]) for r in rows]

    def cached_vectors(self, embed_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Embeddings already stored for these text hashes (the embedding cache)."""
        out: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(embed_hashes))
        with self._lock:
            for i in range(0, len(hashes), 500):
                part = hashes[i:i + 500]
                for h, blob in self._conn.execute(
                        f"SELECT embed_hash, vector FROM embeddings WHERE embed_hash IN ({','.join('?' * len(part))})",
                        part):
                    out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    # -- writes (call inside `writer()`) -------------------------------------------------------
    def put_documents(self, items: Sequence[tuple[Document, Sequence[Chunk], Sequence[str]]],
                      vectors: dict[str, np.ndarray], chunking: str) -> None:
        """Insert or replace documents, their chunks and new embeddings in a single transaction."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()])
            for doc, chunks, embed_hashes in items:
                self._conn.execute("DELETE FROM documents WHERE doc_id = ? OR path = ?", (doc.doc_id, doc.path))
                self._conn.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.doc_id, doc.path, doc.title, doc.date, doc.sha256, doc.mtime, doc.format, doc.text,
                     json.dumps([[p.number, p.start, p.end] for p in doc.pages]),
                     json.dumps([[s.title, s.level, s.start] for s in doc.sections]), chunking, time.time()))
                self._conn.executemany(
                    'INSERT INTO chunks (chunk_id, doc_id, ordinal, start, "end", page, heading, text, embed_hash) '
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    [(c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.page, c.heading, c.text, h)
                     for c, h in zip(chunks, embed_hashes)])
            self._bump_generation()

    def put_embeddings(self, vectors: dict[str, np.ndarray]) -> None:
        """Add embeddings to the cache in one transaction (no chunk uses them yet; the generation
        is unchanged, and prune_embeddings drops them if no document ever does)."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()])

    def remove_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete documents and their chunks in one transaction."""
        if not doc_ids:
            return
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids])
            self._bump_generation()

    def prune_embeddings(self) -> None:
        """Drop cached embeddings no chunk uses any more."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM embeddings WHERE embed_hash NOT IN (SELECT embed_hash FROM chunks)")

    def _bump_generation(self) -> None:
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


def keyword_text(title: str, heading: str | None, text: str) -> str:
    """What BM25 and the embedder see for a chunk: its document title, heading and text."""
    parts = [title]
    if heading and heading != title:
        parts.append(heading)
    parts.append(text)
    return "\n".join(parts)


def _chunk(r: Sequence) -> Chunk:
    return Chunk(chunk_id=r[0], doc_id=r[1], ordinal=r[2], text=r[3], start=r[4], end=r[5], page=r[6], heading=r[7])


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, check_same_thread=False, timeout=30.0, isolation_level="DEFERRED")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a killed process loses nothing committed
    conn.execute("PRAGMA foreign_keys=ON")
    return conn
