"""Questions reworded as indirect questions for refusals."""

from __future__ import annotations

from rag.answer.wording import indirect_question


def test_indirect_question_table() -> None:
    cases = {
        "What is the capital of France?": "what the capital of France is",
        "When was the treaty signed?": "when the treaty was signed",
        "Who signed the treaty?": "who signed the treaty",
        "Did Russia sign the treaty?": "whether Russia signed the treaty",
        "Is the treaty valid?": "whether the treaty is valid",
        "How does the committee choose its chair?": "how the committee chooses its chair",
        "Tell me about THAAD": 'the answer to "Tell me about THAAD"',
        "Who was the president of France in 1980?": "who the president of France was in 1980",
        "Can the minister veto the bill?": "whether the minister can veto the bill",
        "Where is the headquarters located?": "where the headquarters is located",
        "What did the ministry decide about the budget?": "what the ministry decided about the budget",
    }
    for question, expected in cases.items():
        assert indirect_question(question) == expected
