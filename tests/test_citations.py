"""Citation verification and repair, answer sentence splitting, refusals and the evidence gate."""

from __future__ import annotations

import pytest

from rag.citations import evidence_is_insufficient, indirect_question, is_not_found, refusal, verify_answer
from rag.types import Chunk, Evidence, Hit
from tests.fakes import HashingEmbedder

PREFIX = "Minutes of the council.\n\n"
SENTENCES = [
    "The Harbour Authority approved the new quay in March 2021.",
    "Construction will cost 40 million euros.",
    "The mayor, Ana Ruiz, opposed the plan because of traffic.",
]
DOC = PREFIX + " ".join(SENTENCES) + "\nBirds nest on the old pier."


def make_evidence() -> list[Evidence]:
    start = len(PREFIX)
    chunk = Chunk("d1:0", "d1", 0, DOC[start:], start, len(DOC), page=3)
    hit = Hit(1, 0.9, chunk, "/docs/quay.txt", "Quay memo", "2021-03-05")
    out = []
    for n, sentence in enumerate(SENTENCES, start=1):
        s = DOC.index(sentence)
        out.append(Evidence(n, hit, s, s + len(sentence), sentence, 1.0))
    return out


EMB = HashingEmbedder()


def verify(raw: str, **kw):  # type: ignore[no-untyped-def]
    return verify_answer("What was decided about the quay?", raw, make_evidence(), EMB, **kw)


def quotes_exact(result) -> None:  # type: ignore[no-untyped-def]
    assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
    for c in result.citations:
        assert c.quote and DOC[c.start : c.end] == c.quote
        assert (c.doc_id, c.chunk_id, c.path, c.title, c.page) == ("d1", "d1:0", "/docs/quay.txt", "Quay memo", 3)


@pytest.mark.parametrize(
    ("raw", "quote", "supported"),
    [
        ("The quay will cost 40 million euros [9].", SENTENCES[1], True),  # invented [9] dropped
        ("Ana Ruiz opposed the plan [1].", SENTENCES[2], True),  # wrong [1] corrected
        ("The Harbour Authority approved the new quay in March 2021.", SENTENCES[0], True),  # missing found
        ("The quay will cost 90 million euros [2].", None, False),  # number not in any span
        ("The mayor did not oppose the plan [3].", None, False),  # negation disagrees
        ("Penguins prefer cold water [1].", None, False),  # nothing supports it
    ],
)
def test_citation_repair_table(raw: str, quote: str | None, supported: bool) -> None:
    result = verify(raw)
    first = result.sentences[0]
    assert first.supported is supported
    assert "[" not in first.text
    if supported:
        assert len(first.citations) == 1
        assert result.citations[first.citations[0] - 1].quote == quote
    else:
        assert first.citations == ()
    quotes_exact(result)


def test_citations_numbered_by_first_use_and_deduplicated() -> None:
    raw = "Ana Ruiz opposed the plan [3]. The plan will cost 40 million euros [1]. Ruiz opposed the plan because of traffic."
    result = verify(raw)
    assert [s.citations for s in result.sentences] == [(1,), (2,), (1,)]
    assert [c.quote for c in result.citations] == [SENTENCES[2], SENTENCES[1]]
    assert result.answer.startswith("Ana Ruiz opposed the plan [1]. The plan will cost 40 million euros [2].")
    assert not result.refused
    quotes_exact(result)


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    result = verify("The quay will cost 40 million euros. [2] Ana Ruiz opposed the plan.[3]")
    assert [s.text for s in result.sentences[:2]] == ["The quay will cost 40 million euros.", "Ana Ruiz opposed the plan."]
    assert all(s.supported for s in result.sentences)


def test_unsupported_sentence_stays_unsupported_and_evidence_is_quoted() -> None:
    result = verify("Ana Ruiz opposed the plan [3]. She also wants a tunnel to Mars [3].")
    assert [s.supported for s in result.sentences[:2]] == [True, False]
    last = result.sentences[-1]
    assert last.supported and last.text == f'According to Quay memo (2021-03-05): "{SENTENCES[2]}"'
    assert "She also wants a tunnel to Mars." in result.answer  # shown, but without a citation
    assert "Mars [" not in result.answer
    quotes_exact(result)


def test_thin_answer_gets_the_supporting_quote() -> None:
    result = verify("40 million euros.")
    assert result.sentences[0].supported and result.sentences[0].text == "40 million euros."
    assert result.sentences[1].text.startswith("According to Quay memo")
    assert result.sentences[0].citations == result.sentences[1].citations == (1,)
    assert len(result.citations) == 1 and result.citations[0].quote == SENTENCES[1]


def test_garbage_and_repetition_are_dropped() -> None:
    raw = (
        "According to the sources, the quay will cost 40 million euros [2]. The quay will cost 40 million euros [2]. "
        "costs costs costs costs costs costs costs costs costs. [1]"
    )
    result = verify(raw)
    texts = [s.text for s in result.sentences]
    assert texts[0] == "The quay will cost 40 million euros."
    assert not any("costs costs" in t for t in texts)
    assert texts.count("The quay will cost 40 million euros.") == 1


def test_not_found_and_unsupported_answers_refuse() -> None:
    for raw in ("NOT FOUND", "not found.", "The sources do not mention the quay.", "I don't know."):
        result = verify(raw)
        assert result.refused and result.citations == () and result.answer.startswith("The documents do not say")
    fantasy = verify("Penguins prefer cold water.", quote_when_unsupported=False)
    assert fantasy.refused and fantasy.citations == ()
    quoted = verify("Penguins prefer cold water.")
    assert not quoted.refused and quoted.sentences[0].supported is False and quoted.sentences[-1].supported
    assert verify_answer("q?", "Anything.", [], EMB).refused
    assert not is_not_found("The wreck was not found until 1990.")


def test_refusal_wording() -> None:
    result = refusal("When did the 1973 oil crisis begin?")
    assert result.refused and result.citations == () and result.sentences == ()
    assert result.answer == "The documents do not say when the 1973 oil crisis began."
    cases = {
        "What is the capital of France?": "what the capital of France is",
        "When was the treaty signed?": "when the treaty was signed",
        "Who signed the treaty?": "who signed the treaty",
        "Did Russia sign the treaty?": "whether Russia signed the treaty",
        "Is the treaty valid?": "whether the treaty is valid",
        "How does the committee choose its chair?": "how the committee chooses its chair",
        "Tell me about THAAD": 'the answer to "Tell me about THAAD"',
    }
    for question, expected in cases.items():
        assert indirect_question(question) == expected


def test_evidence_gate() -> None:
    evidence = make_evidence()
    assert evidence_is_insufficient("How much will construction of the quay cost?", [], EMB)
    assert not evidence_is_insufficient("How much will construction of the quay cost?", evidence, EMB)
    assert evidence_is_insufficient("What did Pedro Alvarez say about the quay?", evidence, EMB)  # unknown name
    assert evidence_is_insufficient("How many penguins live in Antarctica?", evidence, EMB)  # nothing related
