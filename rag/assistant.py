"""Assistant: the library API, and the only place that knows the order of the stages."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rag.config import Settings, configure_offline
from rag.embed.embedder import Embedder, embedder_id, load_embedder
from rag.errors import ConfigError, IndexMissingError
from rag.generate.generator import MODEL_LOCK, Generator, load_generator
from rag.ingest.readers.common import iso_day, parse_date
from rag.retrieve.dates import asked_on, date_hint
from rag.retrieve.hybrid import Query, search, with_new_documents
from rag.retrieve.judge import Judge
from rag.retrieve.rerank import load_judge
from rag.retrieve.rerank import rerank as rerank_hits
from rag.store.backend import ChunkIndex
from rag.store.indexes import load_or_build
from rag.store.sqlite import Store
from rag.store.writer import Progress, chunking_signature, ingest
from rag.thresholds import THRESHOLDS
from rag.types import Answer, Brief, Chunk, Document, DocumentInfo, Hit, IngestReport, Message, TokenCallback

if TYPE_CHECKING:
    from rag.answer.chat import ChatSession

SPREAD_FETCH = 4  # with Settings.new_document_hits, search this many times k hits to find other documents


class Assistant:
    """Ingest, search, ask, chat, summarise and brief over one index directory.

    Models load lazily on first use and are shared by every call; the object is safe to use from
    several threads (writes and generation are serialised, searches run concurrently).
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 generator: Generator | None = None, judge: Judge | None = None) -> None:
        configure_offline()
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._generator = generator
        self._judge = judge
        self._store: Store | None = None
        self._indexes: ChunkIndex | None = None
        self._state_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self.generation_lock = MODEL_LOCK

    # -- models ---------------------------------------------------------------------------------
    @property
    def embedder_id(self) -> str:
        """Identity of the embedder, known without loading it."""
        return self._embedder.id if self._embedder is not None else embedder_id(self.settings)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = load_generator(self.settings)
        return self._generator

    @property
    def judge(self) -> Judge | None:
        """The judge (quote pick, answerability, optional reranking), or None when switched off."""
        return self._load_judge() if self.settings.judge_enabled else None

    def _load_judge(self) -> Judge:
        if self._judge is None:
            self._judge = load_judge(self.settings)
        return self._judge

    def model_info(self) -> dict[str, str]:
        """The models an answer was produced with (loads the generator)."""
        info = {"llm": self.generator.info.get("llm", "unknown"), "embedder": self.embedder_id}
        info.update({f"llm_{k}": v for k, v in self.generator.info.items() if k != "llm"})
        if self.judge is not None:
            info["judge"] = self.judge.id
        return info

    # -- index ----------------------------------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return Path(self.settings.index_dir)

    def _open(self, create: bool = False) -> Store:
        with self._state_lock:
            if self._store is None:
                if create:
                    self._store = Store.open(self.index_dir, self.embedder_id, self.embedder.dim, self._signature(),
                                             create=True)
                else:
                    self._store = Store.open(self.index_dir, self.embedder_id)
            return self._store

    def _signature(self) -> str:
        return chunking_signature(self.settings.chunk_tokens, self.settings.chunk_overlap)

    @property
    def _local(self) -> bool:
        return self.settings.store.strip() == "local"

    def _search_indexes(self, locked: bool = False) -> ChunkIndex:
        """The search side of the store (rag.store.backend), in line with the catalog; `locked`:
        the caller holds the index's write lock."""
        store = self._open()
        with self._state_lock:
            if self._local:
                if self._indexes is None or self._indexes.generation != store.generation:
                    self._indexes = load_or_build(store)
                return self._indexes
            if self._indexes is None:
                from rag.store.qdrant import QdrantIndex

                self._indexes = QdrantIndex.open(self.settings, store)
            self._indexes.refresh(store, locked=locked)
            return self._indexes

    def stats(self) -> dict[str, int]:
        """{"documents", "chunks", "version"}; zeros when no index exists yet."""
        try:
            store = self._open()
        except IndexMissingError:
            return {"documents": 0, "chunks": 0, "version": 0}
        docs, chunks = store.counts()
        return {"documents": docs, "chunks": chunks, "version": store.generation}

    def ingest(self, paths: Sequence[str | Path], exclude: Sequence[str] = (),
               progress: Progress | None = None, ray: str | None = None) -> IngestReport:
        """Add new files, re-index changed ones, drop vanished ones; see IngestReport.

        `ray`: read, chunk and embed on Ray Data workers (`rag.store.ray_ingest`): "local" starts
        Ray on this machine, anything else is a cluster address (`ray://head:10001`, `auto`).
        """
        if not paths:
            raise ConfigError("give at least one file or folder to ingest")
        missing = [str(p) for p in paths if not Path(p).exists()]
        if missing:
            raise ConfigError(f"no such file or folder: {missing[0]} (nothing was indexed)")
        with self._write_lock:
            store = self._open(create=True)
            with store.writer():
                index = None if self._local else self._search_indexes(locked=True)
                on_commit = None if index is None else (lambda ids: index.apply(store, ids))
                if ray:
                    from rag.store.ray_ingest import RayPlan, ingest_on_ray

                    report = ingest_on_ray(store, self.settings, self.embedder_id, paths, exclude=exclude,
                                           plan=RayPlan(ray), progress=progress, on_commit=on_commit)
                else:
                    report = ingest(store, self.embedder, paths, exclude=exclude,
                                    chunk_tokens=self.settings.chunk_tokens, overlap=self.settings.chunk_overlap,
                                    progress=progress, on_commit=on_commit)
                self._search_indexes(locked=True)  # build and save the derived indexes while we hold the lock
        return report

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document."""
        return self._open().documents()

    def document(self, doc_id: str) -> Document:
        """One document with the extracted text all offsets point into."""
        store = self._open()
        return store.document(store.resolve_doc(doc_id))

    def selection(self, doc_ids: Sequence[str] = ()) -> tuple[list[DocumentInfo], list[Chunk]]:
        """The given documents (all when none) and all their chunks, in reading order."""
        store = self._open()
        infos = store.documents()
        if doc_ids:
            wanted = {store.resolve_doc(d) for d in doc_ids}
            infos = [d for d in infos if d.doc_id in wanted]
        return infos, store.chunks([d.doc_id for d in infos])

    def remove(self, doc_id_or_path: str) -> list[str]:
        """Remove a document (by id or path); returns the removed ids."""
        with self._write_lock:
            store = self._open()
            with store.writer():
                doc_id = store.resolve_doc(doc_id_or_path)
                index = None if self._local else self._search_indexes(locked=True)
                store.remove_documents([doc_id])
                if index is not None:
                    index.apply(store, [doc_id])
                store.prune_embeddings()
                self._search_indexes(locked=True)
        return [doc_id]

    def search(self, query: str, k: int | None = None, mode: str | None = None,
               doc_ids: Sequence[str] = (), since: str | None = None, until: str | None = None,
               rerank: bool | None = None, as_of: str | None = None) -> list[Hit]:
        """Hybrid (or dense/BM25) search, best first; the top Settings.rerank_depth fused hits are
        reordered by the judge unless `rerank` (default Settings.rerank) is off. Dates the query
        names ("in March 2025", "last week", "latest") boost matching documents, relative to
        `as_of` (the question's own ISO date; default today) unless since/until are given; a query
        with an `as_of` that names no date boosts the documents of the week up to it. The last
        Settings.new_document_hits of the k hits come from documents not among the hits before them."""
        since, until = _iso_day("since", since), _iso_day("until", until)
        if k is not None and k < 1:
            raise ConfigError(f"k must be at least 1, not {k}")
        store = self._open()
        resolved = tuple(store.resolve_doc(d) for d in doc_ids)
        k = k or self.settings.k
        judge = self._load_judge() if (self.settings.rerank if rerank is None else rerank) else None
        depth = self.settings.rerank_depth
        hint = None
        if not (since or until):
            day = self._as_of(as_of)
            hint = date_hint(query, day)
            if hint is None and as_of and THRESHOLDS.asked_on_boost:
                hint = asked_on(day, THRESHOLDS.asked_on_days, THRESHOLDS.asked_on_boost)
        want = max(k, depth) if judge else k
        spread = min(self.settings.new_document_hits, k - 1)
        q = Query(text=query, k=max(want, k * SPREAD_FETCH) if spread > 0 else want,
                  mode=mode or self.settings.search_mode,
                  doc_ids=resolved, since=since, until=until, dense_weight=self.settings.dense_weight, dates=hint)
        hits = search(store, self._search_indexes(), self.embedder, q)
        if judge is not None:
            hits = rerank_hits(query, hits, judge, depth, self.settings.rerank_weight)
        if spread > 0:
            hits = with_new_documents(hits, k, spread)
        return hits[:k]

    @staticmethod
    def _as_of(value: str | None) -> date:
        if not value:
            return date.today()
        day = parse_date(value)
        if day is None:
            raise ConfigError(f"as_of: {value!r} is not a date (use YYYY-MM-DD)")
        return date.fromisoformat(day)

    # -- answers --------------------------------------------------------------------------------
    def ask(self, question: str, k: int | None = None, doc_ids: Sequence[str] = (),
            history: Sequence[Message] = (), on_token: TokenCallback | None = None,
            as_of: str | None = None) -> Answer:
        """Answer from the indexed documents with verified citations, or refuse; `as_of` is the
        date the question was asked (its "this week" or "latest"), default today."""
        from rag.answer.ask import answer_question
        from rag.answer.prompt import check_question

        check_question(question)
        return answer_question(self, question, k=k, doc_ids=doc_ids, history=history, on_token=on_token,
                               as_of=as_of)

    def chat(self) -> "ChatSession":
        """A conversation whose follow-up questions are rewritten to stand alone."""
        from rag.answer.chat import ChatSession

        return ChatSession(self)

    def summarize(self, doc_ids: Sequence[str] = (), on_token: TokenCallback | None = None,
                  progress: Progress | None = None) -> Answer:
        """Map-reduce summary of the given documents (all when none), every sentence cited;
        `progress` gets (done, total, what) of each step (rag.summary.mapreduce.summarize)."""
        from rag.answer.ask import build_answer, index_info
        from rag.summary.mapreduce import summarize

        t0 = time.perf_counter()
        infos, chunks = self.selection(doc_ids)
        with self.generation_lock:
            verified, coverage = summarize(infos, chunks, self.generator, self.embedder, self.settings,
                                           on_token=on_token, progress=progress)
        label = "Summary of " + (", ".join(d.title for d in infos) if doc_ids else "the whole corpus")
        answer = build_answer(label, verified, [], model=self.model_info(), index=index_info(self),
                              retrieve_ms=0.0, first_token_ms=None, t0=t0)
        return dataclasses.replace(answer, coverage=coverage, chunk_ids=tuple(c.chunk_id for c in chunks))

    def brief(self, doc_ids: Sequence[str] = (), progress: Progress | None = None) -> Brief:
        """The structured brief: key points, actors, tensions, open questions; all cited;
        `progress` as in summarize."""
        from rag.summary.brief import make_brief

        infos, chunks = self.selection(doc_ids)
        with self.generation_lock:
            return make_brief(infos, chunks, self.generator, self.embedder, self.settings, progress=progress)

    def close(self) -> None:
        """Release the index files (models stay cached in the process)."""
        with self._state_lock:
            if self._indexes is not None:
                self._indexes.close()
            if self._store is not None:
                self._store.close()
            self._store = None
            self._indexes = None

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _iso_day(field: str, value: str | None) -> str | None:
    """A since/until bound: None (or empty), or a real calendar day written YYYY-MM-DD."""
    if not value:
        return None
    day = iso_day(value)
    if day is None:
        raise ConfigError(f"{field}: {value!r} is not a date (use YYYY-MM-DD)")
    return day
