"""The last Settings.new_document_hits of a question's hits come from documents not among the hits before them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.config import Settings
from rag.errors import ConfigError
from rag.retrieve.hybrid import with_new_documents
from rag.types import Chunk, Hit
from tests.fakes import HashingEmbedder


def _hits(docs: str) -> list[Hit]:
    """One hit per letter, best first: "aab" is two chunks of document a, then one of b."""
    seen: dict[str, int] = {}
    out = []
    for rank, doc in enumerate(docs, 1):
        n = seen[doc] = seen.get(doc, -1) + 1
        out.append(Hit(rank, 1.0 - rank / 100, Chunk(f"{doc}-{n}", doc, n, f"{doc}{n}", 0, 2), f"/{doc}.txt", doc))
    return out


@pytest.mark.parametrize(("docs", "k", "new", "expected"), [
    ("aaabbc", 3, 0, ["a-0", "a-1", "a-2"]),
    ("aaabbc", 3, 2, ["a-0", "b-0", "c-0"]),
    ("aaabbc", 4, 2, ["a-0", "a-1", "b-0", "c-0"]),
    ("abaabc", 4, 2, ["a-0", "b-0", "a-1", "c-0"]),  # b's second chunk is not new; rank order kept
    ("aaaa", 3, 2, ["a-0", "a-1", "a-2"]),  # one document only: topped up in rank order
    ("aaab", 3, 2, ["a-0", "a-1", "b-0"]),
    ("ab", 5, 3, ["a-0", "b-0"]),
    ("", 3, 1, []),
])
def test_with_new_documents(docs: str, k: int, new: int, expected: list[str]) -> None:
    got = with_new_documents(_hits(docs), k, new)
    assert [h.chunk_id for h in got] == expected
    assert [h.rank for h in got] == list(range(1, len(expected) + 1))


def test_a_question_over_a_folder_sees_more_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    long_report = "\n\n".join(f"The harbour levy section {i} sets the levy on ferries and quays at rate {i}."
                              for i in range(12))
    (docs / "report.txt").write_text(f"Harbour levy report\n\n{long_report}\n")
    (docs / "memo.txt").write_text("Council memo\n\nThe council opposed the harbour levy on ferries.\n")
    question = "What is the harbour levy on ferries?"
    plain = Settings.from_env({}, index_dir=tmp_path / "index", chunk_tokens=20, chunk_overlap=0, judge="off",
                              new_document_hits=0)
    with Assistant(plain, embedder=HashingEmbedder(dim=256)) as a:
        a.ingest([docs])
        best = a.search(question, k=3)
    with Assistant(plain.with_(new_document_hits=1), embedder=HashingEmbedder(dim=256)) as a:
        spread = a.search(question, k=3)
        one_doc = a.search(question, k=3, doc_ids=[best[0].doc_id])
    assert {Path(h.path).name for h in best} == {"report.txt"}  # the long report fills every slot
    assert [h.chunk_id for h in spread[:2]] == [h.chunk_id for h in best[:2]]  # its best chunks stay
    assert {Path(h.path).name for h in spread} == {"report.txt", "memo.txt"}
    assert len(one_doc) == 3  # topped up from the same document when it is all there is
    with pytest.raises(ConfigError, match="new_document_hits"):
        Settings.from_env({"RAG_NEW_DOCUMENT_HITS": "-1"})
