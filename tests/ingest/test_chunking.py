"""Tests for rag.ingest.chunking: sentence spans and structure-aware chunks with exact offsets."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.ingest.chunking import CHUNKER_VERSION, chunk_document, estimate_tokens, split_sentences
from rag.ingest.markdown import front_matter_end, markdown_sections
from rag.types import Document, Page, Section

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_chunking  # noqa: E402  (the bench generates the same long texts)


def make_doc(text: str, pages: tuple[Page, ...] = (), sections: tuple[Section, ...] = (), fmt: str = "txt") -> Document:
    return Document(
        doc_id="doc1", path="/tmp/doc1", title="Doc", date=None, text=text, sha256="0" * 64,
        mtime=0.0, pages=pages, sections=sections, format=fmt,
    )


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def check_chunks(doc: Document, chunks, budget: int) -> None:
    """Invariants every chunking must keep."""
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    previous_start = -1
    for c in chunks:
        assert c.chunk_id == f"{doc.doc_id}-{c.ordinal:05d}"
        assert c.doc_id == doc.doc_id
        assert c.text == doc.text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert c.page == doc.page_at(c.start)
        assert c.start >= previous_start
        previous_start = c.start
        for page in doc.pages:
            assert not (c.start < page.start < c.end), f"chunk {c.chunk_id} spans into page {page.number}"


# ---- split_sentences -------------------------------------------------------------------------


def test_abbreviations_initials_and_acronyms_do_not_split():
    text = "Dr. Smith met Mr. Jones and J. A. Doe in the U.S. on Monday. They discussed No. 5 with Prof. Lee."
    assert sentences(text) == [
        "Dr. Smith met Mr. Jones and J. A. Doe in the U.S. on Monday.",
        "They discussed No. 5 with Prof. Lee.",
    ]
    assert sentences("The answer was No. The vote failed. See Roe v. Wade, 410 U.S. 113.") == [
        "The answer was No.",
        "The vote failed.",
        "See Roe v. Wade, 410 U.S. 113.",
    ]


def test_acronym_at_sentence_end_splits_before_a_sentence_starter():
    assert sentences("Growth slowed in the U.S. The euro area did better.") == [
        "Growth slowed in the U.S.",
        "The euro area did better.",
    ]
    assert sentences("Acme Inc. Chief Executive Jo Bloggs resigned. The board met.") == [
        "Acme Inc. Chief Executive Jo Bloggs resigned.",
        "The board met.",
    ]


def test_decimals_percentages_and_dates():
    text = "Inflation rose 3.5% to 2.75 points in Jan. 2020. It fell to 1.2 by e.g. March. Fig. 3 shows it."
    assert sentences(text) == [
        "Inflation rose 3.5% to 2.75 points in Jan. 2020.",
        "It fell to 1.2 by e.g. March.",
        "Fig. 3 shows it.",
    ]


def test_quotes_and_brackets_stay_with_their_sentence():
    text = 'He said, "It is over." Then he left. (See the annex.) "Why?" she asked. Next!'
    assert sentences(text) == [
        'He said, "It is over."',
        "Then he left.",
        "(See the annex.)",
        '"Why?" she asked.',
        "Next!",
    ]


def test_citation_markers_stay_with_the_sentence_they_follow():
    text = "Talks were delayed.[1] The envoy left [2]. Aid resumed. [3, 4] Prices fell!"
    assert sentences(text) == ["Talks were delayed.[1]", "The envoy left [2].", "Aid resumed. [3, 4]", "Prices fell!"]


def test_bullets_blank_lines_and_headings_end_sentences():
    text = (
        "# Situation report\n"
        "Talks resumed today\n\n"
        "Key points:\n"
        "- sanctions remain in place\n"
        "- a second round is planned\n"
        "  for next week\n"
        "1. First numbered item\n\n"
        "Background\n"
        "The dispute began in 2019. It is unresolved."
    )
    assert sentences(text) == [
        "# Situation report",
        "Talks resumed today",
        "Key points:",
        "- sanctions remain in place",
        "- a second round is planned\n  for next week",
        "1. First numbered item",
        "Background",
        "The dispute began in 2019.",
        "It is unresolved.",
    ]


def test_wrapped_lines_inside_a_sentence_do_not_split():
    text = "The committee, which met on\nTuesday, agreed to the terms\nof the ceasefire. Observers welcomed it."
    assert sentences(text) == [
        "The committee, which met on\nTuesday, agreed to the terms\nof the ceasefire.",
        "Observers welcomed it.",
    ]


def test_long_unpunctuated_run_is_cut_at_commas_then_spaces():
    text = ", ".join(f"item{i}" for i in range(200))
    spans = split_sentences(text)
    assert len(spans) > 1
    assert all(b - a <= 400 for a, b in spans)
    assert all(text[b - 1] == "," for a, b in spans[:-1])
    words = " ".join(f"word{i}" for i in range(300))
    spans = split_sentences(words)
    assert all(b - a <= 400 for a, b in spans)
    assert " ".join(words[a:b] for a, b in spans) == words


def test_spans_are_absolute_trimmed_and_bounded():
    text = "Preamble text.   First sentence here.  Second one!  \n\n  Tail outside."
    start = text.index("First") - 2
    end = text.index("Tail") - 1
    spans = split_sentences(text, start, end)
    assert [text[a:b] for a, b in spans] == ["First sentence here.", "Second one!"]
    for a, b in spans:
        assert start <= a < b <= end
        assert not text[a].isspace() and not text[b - 1].isspace()
    assert split_sentences("   \n\n  ") == []
    assert split_sentences("") == []


def test_split_sentences_handles_one_megabyte():
    paragraph = (
        "Dr. A. Smith said the U.S. economy grew 3.5% in Q2. Exports rose, imports fell; the deficit narrowed.\n"
        "- bullet item one\n- bullet item two\n\nSection heading\nThe next paragraph starts here. It ends here!\n\n"
    )
    text = paragraph * (1_000_000 // len(paragraph) + 1)
    spans = split_sentences(text)  # its speed is measured by bench/bench_ingest.py, not asserted here
    assert len(spans) > 30_000
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))


# ---- chunk_document --------------------------------------------------------------------------


MARKDOWN = """# Quarterly security briefing

## Summary

The region remained tense during the quarter. Negotiations stalled twice. Observers expect a new round in May.

## Actors

### Government

The government insists on phased withdrawal. It has offered a prisoner exchange as a first step. Critics call the offer symbolic.

### Opposition

The opposition demands an immediate ceasefire. Its leader, Ms. K. Ortega, met the U.N. envoy on 3 March.

## Outlook

""" + " ".join(f"Scenario {i} depends on factor {i % 7} and on the weather in week {i}." for i in range(40))


def test_markdown_chunks_follow_sections_and_carry_headings():
    doc = make_doc(MARKDOWN, fmt="md")
    chunks = chunk_document(doc, chunk_tokens=80, overlap=15)
    check_chunks(doc, chunks, 80)
    by_heading = {c.heading for c in chunks}
    assert {"Summary", "Government", "Opposition", "Outlook"} <= by_heading
    for c in chunks:
        assert estimate_tokens(c.text) <= 80
        # a chunk never runs across a Markdown heading into the next section: headings only lead
        lines = [line for line in c.text.splitlines() if line.strip()]
        body_seen = False
        for line in lines:
            assert not (body_seen and line.startswith("#")), c.text
            body_seen = body_seen or not line.startswith("#")
    first = chunks[0]
    assert first.text.startswith("# Quarterly security briefing\n\n## Summary")
    assert first.heading == "Summary"
    assert "Negotiations stalled twice." in first.text
    assert not any(c.text.strip("# ") in {"Actors", "Quarterly security briefing"} for c in chunks)
    government = next(c for c in chunks if c.heading == "Government")
    assert government.text.startswith("## Actors\n\n### Government")


def test_headings_in_plain_text_come_from_the_markdown_parser():
    body = " ".join(f"Point {i} concerns harbour fees in district {i}." for i in range(12))
    text = (
        "Findings\n========\n\n" + body + "\n\n```\n# not a heading, a shell comment\n```\n\n"
        "This long paragraph line sits above a rule and stays a paragraph, because a setext heading is "
        "short and stands alone.\n---\n\nMethods\n-------\n\n" + body
    )
    chunks = chunk_document(make_doc(text), chunk_tokens=60, overlap=0)
    headings = [c.heading for c in chunks]
    assert "Findings" in headings and "Methods" in headings
    assert not any(h and ("shell comment" in h or "long paragraph" in h) for h in headings)
    assert CHUNKER_VERSION == "structure-v3"


def test_overlap_repeats_whole_trailing_sentences():
    doc = make_doc(" ".join(f"Sentence number {i} talks about topic {i}." for i in range(120)))
    chunks = chunk_document(doc, chunk_tokens=60, overlap=20)
    check_chunks(doc, chunks, 60)
    assert len(chunks) > 5
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start < prev.end, "consecutive chunks of one section overlap"
        shared = doc.text[nxt.start : prev.end]
        assert shared.endswith(".") and shared[0].isupper()
        assert 0 < estimate_tokens(shared) <= 20
        assert estimate_tokens(nxt.text) <= 60
    no_overlap = chunk_document(doc, chunk_tokens=60, overlap=0)
    assert all(b.start > a.end for a, b in zip(no_overlap, no_overlap[1:]))


def test_plain_paragraphs_prefer_paragraph_breaks():
    paragraphs = [" ".join(f"Paragraph {p} sentence {s} is here." for s in range(5)) for p in range(8)]
    doc = make_doc("\n\n".join(paragraphs))
    chunks = chunk_document(doc, chunk_tokens=100, overlap=0)
    check_chunks(doc, chunks, 100)
    for c in chunks:
        assert c.text.startswith("Paragraph") and c.text.endswith("sentence 4 is here.")
        assert estimate_tokens(c.text) <= 100
    assert chunks[-1].end == len(doc.text)


def test_paged_document_never_spans_pages():
    page_texts = [
        "Introduction\n\n" + " ".join(f"Page one line {i} describes the mandate." for i in range(30)),
        " ".join(f"Page two finding {i} was confirmed." for i in range(12)) + "\n\nAnnex heading",
        "Annex body. " + " ".join(f"Page three note {i}." for i in range(25)),
    ]
    text, pages, pos = "", [], 0
    for number, body in enumerate(page_texts, 1):
        if text:
            text += "\n\n"
            pos += 2
        pages.append(Page(number, pos, pos + len(body)))
        text += body
        pos += len(body)
    sections = (Section("Introduction", 1, 0),)
    doc = make_doc(text, pages=tuple(pages), sections=sections, fmt="pdf")
    chunks = chunk_document(doc, chunk_tokens=70, overlap=10)
    check_chunks(doc, chunks, 70)
    assert {c.page for c in chunks} == {1, 2, 3}
    for c in chunks:
        page = pages[c.page - 1]
        assert page.start <= c.start and c.end <= page.end
        assert c.heading == "Introduction"
    assert chunks[0].text.startswith("Introduction\n\nPage one line 0")


def test_fifty_thousand_word_document():
    rng = random.Random(7)
    vocab = ["alpha", "beta", "gamma", "delta", "ministry", "treaty", "border", "sanctions", "talks", "U.S.", "3.5%"]
    parts = []
    words = 0
    while words < 50_000:
        sentence = " ".join(rng.choice(vocab) for _ in range(rng.randint(4, 30)))
        parts.append(sentence.capitalize() + rng.choice([". ", ". ", "? ", ".\n\n", ".\n- "]))
        words += sentence.count(" ") + 1
    doc = make_doc("".join(parts))
    chunks = chunk_document(doc)
    check_chunks(doc, chunks, 200)
    assert all(estimate_tokens(c.text) <= 200 for c in chunks)
    covered = sum(c.end - c.start for c in chunks)
    assert covered >= len(doc.text.strip()) * 0.95  # overlap adds, gaps only drop whitespace


def test_oversized_sentence_is_cut_at_word_boundaries():
    long_sentence = " ".join(f"token{i}" for i in range(60)) + "."
    doc = make_doc("Short start. " + long_sentence + " Short end.")
    chunks = chunk_document(doc, chunk_tokens=20, overlap=5)
    check_chunks(doc, chunks, 20)
    assert len(chunks) >= 4
    for c in chunks:
        assert estimate_tokens(c.text) <= 20
        assert not doc.text[c.end : c.end + 1].isalnum()  # never cut inside a word


def test_tiny_heading_joins_the_following_paragraph():
    text = "Overview\n\nThe mission has three goals. Each is funded.\n\n## Budget\n\nSpending rose by a third."
    doc = make_doc(text, fmt="md")
    chunks = chunk_document(doc, chunk_tokens=200, overlap=40)
    check_chunks(doc, chunks, 200)
    assert [c.text for c in chunks] == [
        "Overview\n\nThe mission has three goals. Each is funded.",
        "## Budget\n\nSpending rose by a third.",
    ]
    assert [c.heading for c in chunks] == [None, "Budget"]


def test_heading_line_is_not_left_at_the_end_of_a_chunk():
    body = " ".join(f"Fact {i} is recorded." for i in range(16))
    text = body + "\n\nRegional Outlook\n" + " ".join(f"Risk {i} is rising." for i in range(14))
    doc = make_doc(text)
    chunks = chunk_document(doc, chunk_tokens=60, overlap=0)
    check_chunks(doc, chunks, 60)
    assert not any(c.text.endswith("Regional Outlook") for c in chunks)
    assert any(c.text.startswith("Regional Outlook\nRisk 0") for c in chunks)


def test_empty_and_whitespace_documents_give_no_chunks():
    assert chunk_document(make_doc("")) == []
    assert chunk_document(make_doc("  \n\n\t ")) == []


def test_invalid_sizes_raise_config_error():
    with pytest.raises(ConfigError):
        chunk_document(make_doc("Some text."), chunk_tokens=50, overlap=50)
    assert CHUNKER_VERSION


def test_random_texts_keep_exact_offsets():
    rng = random.Random(1234)
    pieces = [
        "Dr.", "U.S.", "e.g.", "3.5%", "word", "Alpha", "beta.", "end!", "why?", '"quote."', "(paren.)",
        "\n", "\n\n", "\n- ", "\n# Head\n", "  ", "\t", "...", ";", ",", "—", "J.", "No. 4", "x" * 50,
    ]
    for trial in range(200):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 400)))
        pages: tuple[Page, ...] = ()
        if trial % 3 == 0 and text:
            cut = rng.randint(0, len(text))
            pages = (Page(1, 0, cut), Page(2, cut, len(text)))
        doc = make_doc(text, pages=pages)
        budget = rng.choice([20, 50, 200])
        chunks = chunk_document(doc, chunk_tokens=budget, overlap=budget // 4)
        check_chunks(doc, chunks, budget)
        for a, b in split_sentences(text):
            assert text[a:b] == text[a:b].strip() and a < b
        if any(ch.isalnum() for ch in text):
            assert chunks


def check_covered(text: str, chunks, budget: int) -> None:
    """Chunks in order, each within the token budget, and every letter and digit in one of them
    (spans of punctuation alone are left out by design)."""
    letters = [m.start() for m in re.finditer(r"\w", text)]
    assert chunks[0].start <= letters[0] and chunks[-1].end > letters[-1]
    for before, after in zip(chunks, chunks[1:]):
        assert before.start < after.start and after.end > before.end
        assert after.start <= before.end or not re.search(r"\w", text[before.end : after.start])
    assert max(estimate_tokens(c.text) for c in chunks) <= budget * 1.1  # a word cut in pieces may count a bit more


@pytest.mark.parametrize("make", [bench_chunking.one_line, bench_chunking.prose, bench_chunking.structured])
def test_a_megabyte_of_text_is_cut_into_bounded_chunks_that_cover_it(make):
    text = make(1 << 20)
    doc = make_doc(text)
    chunks = chunk_document(doc)
    check_chunks(doc, chunks, Settings.chunk_tokens)
    check_covered(text, chunks, Settings.chunk_tokens)
    assert max(len(c.text) for c in chunks) < 2_000


@pytest.mark.parametrize("text", [
    bench_chunking.full_stops(50_000),  # a match attempt from every full stop of a run: minutes before
    "word " * 10 + "!" * 50_000 + "?word " * 10,
    "# a" + " " * 50_000 + "b\n\nThe levy takes effect in 2027.",  # the old heading regex: quadratic
    "---\ntitle: a" + " " * 50_000 + "b\n---\nBody text here.",
    "First words here. " + "!" * 50_000 + " Last words here.",  # once one chunk holding the whole run
    "Words on one line " + " " * 50_000 + " and more words after the gap.",
])
def test_hostile_runs_of_punctuation_or_spaces_are_chunked_with_exact_offsets(text):
    doc = make_doc(text, fmt="md")
    chunks = chunk_document(doc)
    check_chunks(doc, chunks, Settings.chunk_tokens)
    body = front_matter_end(text)  # front matter is metadata: covered by no chunk
    check_covered(" " * body + text[body:], chunks, Settings.chunk_tokens)
    assert max(len(c.text) for c in chunks) < 4_000


@pytest.mark.parametrize(("text", "titles"), [
    ("# Title\n", [(1, "Title", 0)]),
    ("## Title ##\n", [(2, "Title", 0)]),
    ("## Title ##   \t\n", [(2, "Title", 0)]),
    ("# Title#\n", [(1, "Title#", 0)]),
    ("# a ## b\n", [(1, "a ## b", 0)]),
    ("# ##\n", [(1, "##", 0)]),
    ("#\n\n#  \n", []),
    ("#Title\n####### seven\n    # indented\n", []),
    ("text\n   ### **Bold** `code` ###\n", [(3, "Bold code", 5)]),
    ("# a" + " " * 1000 + "b #\n", [(1, "a b", 0)]),
])
def test_atx_headings_and_their_closing_sequences(text, titles):
    sections, _ = markdown_sections(text)
    assert [(s.level, s.title, s.start) for s in sections] == titles


def test_front_matter_values_are_trimmed():
    _, front = markdown_sections("---\ntitle:   'Port levy'   \ndate: 2026-04-16\t\n---\n# Body\n")
    assert front == {"title": "Port levy", "date": "2026-04-16"}


def test_markdown_front_matter_is_never_a_chunk():
    text = "---\ntitle: Port levy\ndate: 2026-04-16\n---\n\n# Port levy\n\nThe levy rises in May. Ports pay per tonne.\n"
    chunks = chunk_document(make_doc(text, fmt="md"))
    assert chunks and all("date:" not in c.text and c.start >= text.index("# Port levy") for c in chunks)
    assert all(c.text == text[c.start:c.end] for c in chunks)
    plain = chunk_document(make_doc(text))  # a .txt that happens to start so keeps those lines as text
    assert "date: 2026-04-16" in plain[0].text
