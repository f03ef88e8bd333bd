"""Chat: a conversation whose follow-up questions are rewritten to stand alone before retrieval."""

from __future__ import annotations

from rag.answer.ask import answer_question
from rag.answer.context import StageContext
from rag.answer.followup import rewrite_messages, standalone_question
from rag.answer.prompt import check_question
from rag.types import Answer, Message, TokenCallback

REWRITE_MAX_TOKENS = 48
HISTORY_TURNS = 3


class ChatSession:
    """A conversation: history, follow-up rewriting, and the sources of the last answer."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
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
        with self.ctx.generation_lock:
            rewritten = "".join(self.ctx.generator.stream(rewrite_messages(recent, question),
                                                          max_tokens=REWRITE_MAX_TOKENS))
        return standalone_question(recent, question, rewritten)

    def ask(self, question: str, k: int | None = None, on_token: TokenCallback | None = None) -> Answer:
        """Answer a turn, using the history for follow-ups."""
        check_question(question)
        query = self.standalone(question)
        answer = answer_question(self.ctx, question, k=k, history=self.history[-2 * HISTORY_TURNS:],
                                 on_token=on_token, retrieval_query=query)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        self.last = answer
        return answer

