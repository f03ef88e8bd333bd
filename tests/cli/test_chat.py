"""The chat loop: Ctrl-C cancels the answer being written, commands, one-line sources."""

from __future__ import annotations

import builtins
import threading
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from rag.assistant import Assistant
from rag.cli.render import WIDTH, run_chat
from rag.config import Settings
from rag.generate.generator import MODEL_LOCK
from rag.types import Answer, AnswerSentence, Citation, Message, TokenCallback
from tests.fakes import HashingEmbedder, ScriptedGenerator

LONG_QUOTE = ("The coastal flood levy will take effect on 1 January 2027,\n   the finance ministry said,   after "
              "a\tlong consultation with harbour towns, fishing cooperatives, insurers and the regional councils "
              "that will collect it from every owner of assessed property along the coast.")


def _answer(question: str) -> Answer:
    cite = Citation(1, "d1", "d1-000", "/docs/levy.md", "Coastal\nlevy update", None, 0, len(LONG_QUOTE), LONG_QUOTE)
    short = Citation(2, "d2", "d2-000", "/docs/storage.txt", "Storage memo", 2, 0, 12, "Grid\n\nstorage.")
    return Answer(question, "It takes effect on 1 January 2027.", False,
                  (AnswerSentence("It takes effect on 1 January 2027.", (1, 2), True),), (cite, short))


class FakeChat:
    """A ChatAPI whose first `ask` is interrupted (Ctrl-C) while it streams; later ones answer."""

    def __init__(self, interrupt_first: bool = True) -> None:
        self.history: list[Message] = []
        self.last: Answer | None = None
        self.asked: list[str] = []
        self.interrupt = interrupt_first

    def ask(self, question: str, k: int | None = None, on_token: TokenCallback | None = None) -> Answer:
        self.asked.append(question)
        if on_token is not None:
            on_token("It takes ")
        if self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        answer = _answer(question)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        self.last = answer
        return answer

    def reset(self) -> None:
        self.history.clear()
        self.last = None


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str | type[BaseException]) -> None:
    """Make input() return `lines` in turn (an exception class is raised), then Ctrl-D."""
    feed = iter(lines)

    def fake_input(prompt: str = "") -> str:
        item = next(feed, EOFError)
        if isinstance(item, type):
            raise item
        return item

    monkeypatch.setattr(builtins, "input", fake_input)


def chat_loop(session: object) -> int:
    """run_chat on a terminal; a Ctrl-C escaping it fails the test instead of stopping pytest."""
    try:
        return run_chat(session, as_json=False, interactive=True)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the chat loop")


def test_ctrl_c_while_answering_cancels_that_answer_and_the_session_goes_on(monkeypatch, capsys) -> None:
    chat = FakeChat()
    typed(monkeypatch, "When does the levy start?", "When does the levy start, then?")
    assert chat_loop(chat) == 0
    out = capsys.readouterr()
    assert "(answer cancelled)" in out.out and "Traceback" not in out.err
    assert chat.asked == ["When does the levy start?", "When does the levy start, then?"]
    assert [m["content"] for m in chat.history] == ["When does the levy start, then?",
                                                    "It takes effect on 1 January 2027."]
    assert out.out.count("\033[0m") >= 2  # the dim draft of the cancelled answer is closed too


@pytest.mark.parametrize("key", [KeyboardInterrupt, EOFError])
def test_ctrl_c_or_ctrl_d_at_the_prompt_exits_cleanly(monkeypatch, capsys, key) -> None:
    chat = FakeChat(interrupt_first=False)
    typed(monkeypatch, key, "never read")
    assert chat_loop(chat) == 0
    assert chat.asked == [] and capsys.readouterr().err == ""


def test_an_unknown_command_says_so_and_is_not_asked(monkeypatch, capsys) -> None:
    chat = FakeChat(interrupt_first=False)
    typed(monkeypatch, "/sorces", "/help", "/etc/hosts is a path, not a command?")
    chat_loop(chat)
    out = capsys.readouterr().out
    assert "unknown command /sorces; commands: /sources, /reset, /help, /quit" in out
    assert out.count("/sources") >= 2  # /help lists the commands too
    assert chat.asked == ["/etc/hosts is a path, not a command?"]


def test_sources_prints_one_line_per_quote_clipped_to_the_width(monkeypatch, capsys) -> None:
    chat = FakeChat(interrupt_first=False)
    typed(monkeypatch, "When does the levy start?", "/sources")
    chat_loop(chat)
    lines = capsys.readouterr().out.split("\n")
    start = max(i for i, line in enumerate(lines) if line.startswith("[1] "))
    first, second = lines[start], lines[start + 1]
    head = '[1] Coastal levy update: "'
    assert first.startswith(head + "The coastal flood levy will take effect on 1 January 2027, the")
    assert first.endswith('..."') and WIDTH - 20 <= len(first) <= WIDTH
    assert " ".join(LONG_QUOTE.split()).startswith(first[len(head):-4])  # clipped at a word, whitespace collapsed
    assert second == '[2] Storage memo, p. 2: "Grid storage."'


class InterruptedGenerator(ScriptedGenerator):
    """Holds the model lock while it streams, as the llama.cpp adapter does; Ctrl-C lands mid-stream once."""

    def __init__(self, replies: Sequence[str]) -> None:
        super().__init__(replies)
        self.interrupted = False

    def stream(self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()) -> Iterator[str]:
        with MODEL_LOCK:
            for n, piece in enumerate(super().stream(messages, max_tokens=max_tokens, stop=stop)):
                if n == 2 and not self.interrupted:
                    self.interrupted = True
                    raise KeyboardInterrupt
                yield piece


def _lock_is_free() -> bool:
    free: list[bool] = []

    def probe() -> None:
        got = MODEL_LOCK.acquire(timeout=1)
        free.append(got)
        if got:
            MODEL_LOCK.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return free == [True]


def test_a_cancelled_turn_releases_the_model_lock_and_stays_out_of_the_history(
        tmp_path: Path, corpus: Path, monkeypatch, capsys) -> None:
    gen = InterruptedGenerator(["The coastal flood levy will take effect on 1 January 2027 [1]."])
    with Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(), generator=gen) as a:
        a.ingest([corpus])
        session = a.chat()
        typed(monkeypatch, "When does the coastal flood levy take effect?")
        chat_loop(session)
        assert gen.interrupted and _lock_is_free()
        assert session.history == [] and session.last is None
        typed(monkeypatch, "When does the coastal flood levy take effect?")
        chat_loop(session)
        assert len(session.history) == 2 and session.last is not None and not session.last.refused
    assert "(answer cancelled)" in capsys.readouterr().out


def test_a_streamed_draft_is_labelled_as_a_draft_and_the_verified_answer_as_verified(capsys):
    from rag.cli.render import DRAFT_LABEL, VERIFIED_LABEL, render_answer, token_printer
    from rag.types import Answer

    printer = token_printer()
    for piece in ("The levy is ", "340 million."):
        printer(piece)
    render_answer(Answer(question="q", answer="The documents do not say.", refused=True), streamed=True)
    out = capsys.readouterr().out
    assert DRAFT_LABEL + "The levy is 340 million." in out
    assert out.index(VERIFIED_LABEL) > out.index("340 million.")
    assert out.rstrip().endswith("The documents do not say.")
