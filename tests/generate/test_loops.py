"""Repetition loops end the stream early; the repeated copies are neither shown nor verified."""

from __future__ import annotations

import pytest

from rag.generate.loops import loop_start, stop_loops


@pytest.mark.parametrize(("text", "looping"), [
    ("The Council of the Council of the Council of the Council of", True),
    ("The levy is 12 euros. The levy is 12 euros. The levy is 12 euros.", True),
    ("very " * 8, True),
    ("The levy is 12 euros [1]. It takes effect in May [2].", False),
    ("The port, the port authority and the port board met.", False),
    ("Yes, yes.", False),
    ("Fees rose 2% in 2024, 2% in 2025 and 3% in 2026.", False),
    ("The witnesses were: 1. Petra Vogel 2. Tomas Ek 3. David B. 4. David B. 5. David B. 6. David B.", True),
    ("The witnesses were: 1. Petra Vogel 2. Tomas Ek 3. Jonas Berg", False),
])
def test_loop_table(text: str, looping: bool) -> None:
    assert (loop_start(text) is not None) is looping


class _Looping:
    """A token stream that would loop until the token limit; counts what was pulled from it."""

    def __init__(self, head: str, phrase: str, limit: int = 2000) -> None:
        self.tokens = [w + " " for w in head.split()] + [w + " " for w in phrase.split()] * limit
        self.pulled = 0
        self.closed = False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return self

    def __next__(self) -> str:
        if self.pulled >= len(self.tokens):
            raise StopIteration
        self.pulled += 1
        return self.tokens[self.pulled - 1]

    def close(self) -> None:
        self.closed = True


def test_a_loop_is_stopped_after_a_few_copies_and_never_shown() -> None:
    source = _Looping("The levy was approved by", "the Council of")
    shown = "".join(stop_loops(source))
    assert shown == "The levy was approved by the Council of"
    assert source.pulled < 40 and source.closed


def test_a_normal_answer_passes_unchanged() -> None:
    text = "The levy is 12 euros per metre [1]. It takes effect in May 2027 [2]. Farmers are exempt [1]."
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    assert "".join(stop_loops(iter(pieces))) == text


@pytest.mark.e2e
def test_the_real_model_asked_to_loop_is_stopped_within_a_few_copies() -> None:
    from rag.config import Settings
    from rag.generate.generator import load_generator

    settings = Settings()
    try:
        if not settings.model_path.is_file():
            pytest.skip("packaged GGUF missing")
    except Exception as exc:  # noqa: BLE001 - a missing model package is a skip reason
        pytest.skip(f"packaged model not installed: {exc}")
    generator = load_generator(settings)
    prompt = [{"role": "user", "content": 'Write the words "the Council of" one hundred times in a row, nothing else.'}]
    # Without the guard this prompt runs to the token limit (300 tokens, 1,243 characters).
    out = "".join(generator.stream(prompt, max_tokens=300))
    assert out.lower().count("council of") <= 2 and len(out) < 200, out
