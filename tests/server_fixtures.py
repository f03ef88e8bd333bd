"""Shared by the server tests: a fake Assistant with the library's method names that returns real
records, and a real uvicorn server on a free loopback port, run in a thread."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from rag.config import Settings
from rag.errors import GenerationError, NotFoundError
from rag.generate.generator import MODEL_LOCK
from rag.types import (
    Actor,
    Answer,
    AnswerSentence,
    Brief,
    Chunk,
    Citation,
    Claim,
    Coverage,
    Document,
    DocumentInfo,
    Hit,
    IngestFailure,
    IngestReport,
)

LEVY_TEXT = ("Ministry statement\n\nThe Coastal Flood-Defence Levy will take effect on 1 January 2027. "
             "It was first announced for 1 July 2026.\nHarbour owners asked for more time to prepare.\n")
SUPPORTED = "The levy takes effect on 1 January 2027."
UNSUPPORTED = "Everyone welcomed the change."
TOKENS = ("The levy ", "takes effect ", "on 1 January 2027 [1]. ", "Everyone welcomed ", "the change.")


class FakeSession:
    """Stands in for rag.answer.chat.ChatSession: records the history it was given."""

    def __init__(self, assistant: "FakeAssistant") -> None:
        self.assistant = assistant
        self.history: list[dict[str, str]] = []
        self.last: Answer | None = None

    def ask(self, question: str, k: int | None = None, on_token: Callable[[str], None] | None = None) -> Answer:
        self.assistant.sessions.append(list(self.history))
        self.last = self.assistant.ask(question, k=k, history=self.history, on_token=on_token)
        return self.last

    def reset(self) -> None:
        self.history.clear()
        self.last = None


class FakeAssistant:
    """The Assistant's public methods over an in-memory corpus; knobs make ask block, fail or crawl."""

    def __init__(self, index_dir: Path, *, api_key: str | None = None, max_upload_mb: int = 1) -> None:
        self.settings = Settings(index_dir=Path(index_dir), api_key=api_key, max_upload_mb=max_upload_mb)
        self.docs: dict[str, Document] = {}
        self.version = 0
        self.block: threading.Event | None = None
        self.entered = 0
        self.token_delay = 0.0
        self.fail_after_tokens = False
        self.fail_search: Exception | None = None
        self.finished: list[str] = []  # "answer" or the exception class name, per ask call
        self.sessions: list[list[dict[str, str]]] = []
        self.histories: list[list[dict[str, str]]] = []
        self.sentences: tuple[AnswerSentence, ...] | None = None  # overrides the answer's sentences
        self.covered: list[tuple[str, list[str]]] = []  # ("summarize" or "brief", doc_ids) per call

    # -- corpus -----------------------------------------------------------------------------
    def add(self, path: str, text: str, title: str, date: str | None = "2026-04-16") -> Document:
        doc_id = hashlib.sha256(path.encode()).hexdigest()[:12]
        doc = Document(doc_id=doc_id, path=path, title=title, date=date, text=text,
                       sha256=hashlib.sha256(text.encode()).hexdigest(), mtime=0.0)
        self.docs[doc_id] = doc
        self.version += 1
        return doc

    def stats(self) -> dict[str, int]:
        return {"documents": len(self.docs), "chunks": 2 * len(self.docs), "version": self.version}

    def ingest(self, paths: Sequence[str | Path], exclude: Sequence[str] = (), progress: Any = None) -> IngestReport:
        failed, added, updated = [], 0, 0
        for given in paths:
            path = Path(given).resolve()
            data = path.read_bytes()
            if path.suffix == ".pdf" and not data.startswith(b"%PDF"):
                failed.append(IngestFailure(str(path), f"{path}: not a PDF file (no %PDF header)"))
                continue
            known = any(d.path == str(path) for d in self.docs.values())
            self.add(str(path), data.decode("utf-8", "replace"), path.stem.replace("-", " ").title())
            updated, added = updated + known, added + (not known)
        return IngestReport(added=added, updated=updated, documents=len(self.docs), chunks=2 * len(self.docs),
                            failed=tuple(failed))

    def documents(self) -> list[DocumentInfo]:
        return [DocumentInfo(d.doc_id, d.path, d.title, d.date, d.sha256, 0, 2) for d in self.docs.values()]

    def document(self, doc_id: str) -> Document:
        if doc_id not in self.docs:
            raise NotFoundError(f"no document {doc_id!r} in the index in {self.settings.index_dir.resolve()}")
        return self.docs[doc_id]

    def remove(self, doc_id: str) -> list[str]:
        self.document(doc_id)
        del self.docs[doc_id]
        self.version += 1
        return [doc_id]

    # -- retrieval and answers --------------------------------------------------------------
    def _levy(self) -> Document:
        return next(d for d in self.docs.values() if "Levy" in d.text)

    def _citation(self, n: int = 1) -> Citation:
        doc = self._levy()
        start = doc.text.index("The Coastal")
        end = doc.text.index("2027.") + len("2027.")
        return Citation(n, doc.doc_id, f"{doc.doc_id}-00000", doc.path, doc.title, None, start, end,
                        doc.text[start:end])

    def search(self, query: str, k: int | None = None, mode: str | None = None, doc_ids: Sequence[str] = (),
               since: str | None = None, until: str | None = None) -> list[Hit]:
        if self.fail_search is not None:
            raise self.fail_search
        for d in doc_ids:
            self.document(d)
        hits = []
        for rank, doc in enumerate(self.docs.values(), 1):
            chunk = Chunk(f"{doc.doc_id}-00000", doc.doc_id, 0, doc.text[:80], 0, min(80, len(doc.text)))
            hits.append(Hit(rank, 1.0 / rank, chunk, doc.path, doc.title, doc.date))
        return hits[: k or 5]

    def model_info(self) -> dict[str, str]:
        return {"llm": "fake-llm", "embedder": "fake-embedder"}

    def ask(self, question: str, k: int | None = None, doc_ids: Sequence[str] = (),
            history: Sequence[dict[str, str]] = (), on_token: Callable[[str], None] | None = None) -> Answer:
        for d in doc_ids:
            self.document(d)
        self.histories.append([dict(m) for m in history])
        with MODEL_LOCK:  # as the real Assistant: one generation at a time, the others wait here
            self.entered += 1
            try:
                if self.block is not None:
                    self.block.wait(30)
                for piece in TOKENS:
                    if self.token_delay:
                        time.sleep(self.token_delay)
                    if on_token is not None:
                        on_token(piece)
                if self.fail_after_tokens:
                    raise GenerationError("the model stopped: out of memory")
                answer = self._answer(question)
            except BaseException as exc:
                self.finished.append(type(exc).__name__)
                raise
            self.finished.append("answer")
            return answer

    def _answer(self, question: str, coverage: Coverage | None = None) -> Answer:
        sentences = self.sentences or (AnswerSentence(SUPPORTED, (1,), True), AnswerSentence(UNSUPPORTED, (), False))
        text = " ".join(f"{s.text[:-1]} [1]." if s.citations else s.text for s in sentences)
        cited = any(s.citations for s in sentences)
        return Answer(question=question, answer=text, refused=False, sentences=sentences,
                      citations=(self._citation(),) if cited else (), model=self.model_info(),
                      index={"version": self.version, "path": str(self.settings.index_dir.resolve())},
                      timings={"retrieve_ms": 1.0, "first_token_ms": 2.0, "total_ms": 3.0},
                      coverage=coverage)

    def chat(self) -> FakeSession:
        return FakeSession(self)

    def summarize(self, doc_ids: Sequence[str] = (), on_token: Callable[[str], None] | None = None) -> Answer:
        self.covered.append(("summarize", list(doc_ids)))
        return self._answer("Summary of the whole corpus", Coverage(len(self.docs), 2, 2 * len(self.docs)))

    def brief(self, doc_ids: Sequence[str] = ()) -> Brief:
        self.covered.append(("brief", list(doc_ids)))
        point = Claim(SUPPORTED, (1,))
        return Brief(key_points=(point,), actors=(Actor("Ministry", "regulator", (point,)),), tensions=(),
                     open_questions=(Claim("Will harbours be ready?", ()),), citations=(self._citation(),),
                     coverage=Coverage(len(self.docs), 2, 2 * len(self.docs)))


def fake_assistant(index_dir: Path, **kwargs: Any) -> FakeAssistant:
    """A FakeAssistant holding two documents, one of them the levy statement."""
    fake = FakeAssistant(index_dir, **kwargs)
    fake.add("/srv/briefings/levy-postponed.txt", LEVY_TEXT, "Levy postponed")
    fake.add("/srv/briefings/storage.md", "Grid storage targets rise to 4 GW by 2030.\n", "Storage targets",
             "2026-03-05")
    return fake


@contextlib.contextmanager
def running_server(app: Any, **options: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free 127.0.0.1 port in a thread; yields the base URL.

    `options` go to uvicorn.Config (e.g. those of rag.server.limits.uvicorn_options)."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", log_config=None,
                            lifespan="off", timeout_graceful_shutdown=2, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body; comment lines are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events
