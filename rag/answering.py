"""The answer-side stage order, used by Assistant: retrieve -> select evidence -> prompt ->
generate -> verify citations -> Answer; chat follow-ups; summaries and briefs."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from .citations import VerifiedAnswer, evidence_is_insufficient, refusal, verify_answer
from .generation import Message
from .prompting import ANSWER_STOP, answer_messages, rewrite_messages, select_evidence, standalone_question
from .summarizing import make_brief, summarize
from .types import Answer, Brief, Hit

if TYPE_CHECKING:
    from .assistant import Assistant

TokenCallback = Callable[[str], None]
REWRITE_MAX_TOKENS = 48
HISTORY_TURNS = 3


def answer_question(assistant: "Assistant", question: str, *, k: int | None = None, doc_ids: Sequence[str] = (),
                    history: Sequence[Message] = (), on_token: TokenCallback | None = None,
                    retrieval_query: str | None = None) -> Answer:
    """Answer `question` from the index; `retrieval_query` (a rewritten follow-up) drives the search."""
    settings = assistant.settings
    t0 = time.perf_counter()
    hits = assistant.search(retrieval_query or question, k=k, doc_ids=doc_ids)
    retrieve_ms = (time.perf_counter() - t0) * 1000
    embedder = assistant.embedder
    evidence = select_evidence(retrieval_query or question, hits, embedder, settings) if hits else []
    first_token_ms: float | None = None
    if not evidence or evidence_is_insufficient(retrieval_query or question, evidence, embedder):
        verified = refusal(question)
    else:
        generator = assistant.generator
        messages = answer_messages(question, evidence, history, context_window=generator.context_window,
                                   count_tokens=generator.count_tokens, reserve_tokens=settings.max_tokens)
        pieces: list[str] = []
        with assistant.generation_lock:
            for piece in generator.stream(messages, max_tokens=settings.max_tokens, stop=ANSWER_STOP):
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - t0) * 1000
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
        verified = verify_answer(question, "".join(pieces), evidence, embedder)
    return _answer(assistant, question, verified, hits, retrieve_ms, first_token_ms, t0)


def _answer(assistant: "Assistant", question: str, verified: VerifiedAnswer, hits: Sequence[Hit],
            retrieve_ms: float, first_token_ms: float | None, t0: float) -> Answer:
    total_ms = (time.perf_counter() - t0) * 1000
    return Answer(
        question=question, answer=verified.answer, refused=verified.refused, sentences=verified.sentences,
        citations=() if verified.refused else verified.citations, model=assistant.model_info(),
        index={"version": assistant.stats()["version"], "path": str(assistant.index_dir)},
        timings={"retrieve_ms": round(retrieve_ms, 1),
                 "first_token_ms": round(first_token_ms, 1) if first_token_ms is not None else None,
                 "total_ms": round(total_ms, 1)},
        chunk_ids=tuple(h.chunk_id for h in hits))


def stream_in_thread(run: Callable[[TokenCallback], Answer]) -> Iterator[str | Answer]:
    """Run `run(on_token)` in a thread and yield its tokens as they come, then its Answer.

    An exception raised by `run` is re-raised in the consumer.
    """
    q: "queue.Queue[tuple[str, object]]" = queue.Queue()

    def worker() -> None:
        try:
            q.put(("answer", run(lambda piece: q.put(("token", piece)))))
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            q.put(("error", exc))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    while True:
        kind, value = q.get()
        if kind == "token":
            yield str(value)
        elif kind == "answer":
            yield value  # type: ignore[misc]
            return
        else:
            raise value  # type: ignore[misc]


class ChatSession:
    """A conversation: history, follow-up rewriting, and the sources of the last answer."""

    def __init__(self, assistant: "Assistant") -> None:
        self.assistant = assistant
        self.history: list[Message] = []
        self.last: Answer | None = None

    def reset(self) -> None:
        """Forget the conversation."""
        self.history.clear()
        self.last = None

    def standalone(self, question: str) -> str:
        """The question rewritten so it can be searched without the history."""
        if not self.history:
            return question
        recent = self.history[-2 * HISTORY_TURNS:]
        with self.assistant.generation_lock:
            rewritten = "".join(self.assistant.generator.stream(rewrite_messages(recent, question),
                                                                max_tokens=REWRITE_MAX_TOKENS))
        return standalone_question(recent, question, rewritten)

    def ask(self, question: str, k: int | None = None, on_token: TokenCallback | None = None) -> Answer:
        """Answer a turn, using the history for follow-ups."""
        query = self.standalone(question)
        answer = answer_question(self.assistant, question, k=k, history=self.history[-2 * HISTORY_TURNS:],
                                 on_token=on_token, retrieval_query=query)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        self.last = answer
        return answer


def summarize_documents(assistant: "Assistant", doc_ids: Sequence[str], on_token: TokenCallback | None = None) -> Answer:
    """Summary of the selected documents (all when none), as an Answer with coverage."""
    t0 = time.perf_counter()
    infos, chunks = assistant.selection(doc_ids)
    with assistant.generation_lock:
        verified, coverage = summarize(infos, chunks, assistant.generator, assistant.embedder,
                                       assistant.settings, on_token=on_token)
    label = "Summary of " + (", ".join(d.title for d in infos) if doc_ids else "the whole corpus")
    answer = _answer(assistant, label, verified, [], 0.0, None, t0)
    return Answer(**{**answer.__dict__, "coverage": coverage, "chunk_ids": tuple(c.chunk_id for c in chunks)})


def brief_documents(assistant: "Assistant", doc_ids: Sequence[str]) -> Brief:
    """The structured brief of the selected documents (all when none)."""
    infos, chunks = assistant.selection(doc_ids)
    with assistant.generation_lock:
        return make_brief(infos, chunks, assistant.generator, assistant.embedder, assistant.settings)
