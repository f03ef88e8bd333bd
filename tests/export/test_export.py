"""rag.export over small records: what goes in the body, what is left out, the checked quotes, the
Markdown and Word writers, and the atomic write with its errors."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone

import pytest

from rag.errors import ExportError, RagError, StaleExportError
from rag.export import check_target, file_name, from_answer, from_brief, render, write_export
from rag.export.markdown import escape
from rag.types import Actor, Answer, AnswerSentence, Brief, Citation, Claim, Coverage
from tests.export.readback import docx_paragraphs, docx_sources, md_references, md_sources, unescape
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, UNSUPPORTED, fake_assistant

NOW = datetime(2026, 5, 3, 9, 30, tzinfo=timezone.utc)
TRICKY = ("Costs *rose* by 5_000 [see annex](x) <b>now</b> & more &amp; `code` | a ~~b~~ #tag\n"
          "- not a list\n1. not a list either\n> not a quote\n=== not a heading")


@pytest.fixture
def fake(tmp_path):
    return fake_assistant(tmp_path / "index")


def two_sources(fake) -> tuple[Citation, Citation]:
    """Two citations of the levy statement: its first sentence and the two lines after it."""
    first = fake._citation(1)
    doc = fake.document(first.doc_id)
    start = doc.text.index("It was first")
    end = doc.text.index("prepare.") + len("prepare.")
    return first, Citation(2, doc.doc_id, first.chunk_id, doc.path, doc.title, 3, start, end, doc.text[start:end])


def answer(fake, **changes) -> Answer:
    first, second = two_sources(fake)
    sentences = (AnswerSentence(SUPPORTED, (1,), True), AnswerSentence(UNSUPPORTED, (), False),
                 AnswerSentence("It was announced earlier and owners asked for time.", (2, 1), True))
    base = Answer("When does the levy start?", "...", False, sentences, (first, second),
                  model={"llm": "/models/SmolLM2-135M.gguf"}, index={"version": 7})
    return dataclasses.replace(base, **changes)


def brief(fake) -> Brief:
    first, second = two_sources(fake)
    return Brief(key_points=(Claim(SUPPORTED, (1,)), Claim("An uncited key point.", ())),
                 actors=(Actor("Ministry", "regulator", (Claim("The Ministry moved the date.", (2,)),)),
                         Actor("Nobody", "", (Claim("Said nothing cited.", ()),))),
                 tensions=(Claim("Owners and the Ministry differ on timing.", (1, 2)),),
                 open_questions=(Claim("Will harbours be ready?", ()),),
                 citations=(first, second), coverage=Coverage(2, 4, 4))


def test_an_answer_keeps_its_supported_sentences_and_lists_the_others_as_not_verified(fake):
    export = from_answer(answer(fake), fake.document, now=NOW)
    assert export.kind == "answer" and export.title == "When does the levy start?"
    body = [e.cited.text for e in export.sections[0].entries]
    assert UNSUPPORTED not in body and body[0] == SUPPORTED
    assert export.unverified == (UNSUPPORTED,)
    assert export.header[0] == "Exported 2026-05-03 09:30 UTC · index version 7 · model SmolLM2-135M.gguf"
    assert [s.n for s in export.sources] == [1, 2] and export.sources[0].date == "2026-04-16"
    assert export.sources[1].where == "Levy postponed, p. 3, 2026-04-16"


def test_a_refused_answer_is_its_refusal_without_sources(fake):
    refused = answer(fake, refused=True, answer="The documents do not say.", sentences=(), citations=())
    export = from_answer(refused, fake.document, now=NOW)
    assert [e.cited.text for e in export.sections[0].entries] == ["The documents do not say."]
    assert export.sources == () and export.unverified == ()


def test_a_quote_that_is_no_longer_the_document_text_is_refused(fake):
    first, second = two_sources(fake)
    edited = dataclasses.replace(second, quote=second.quote.replace("more", "less"))
    with pytest.raises(StaleExportError, match=r"source \[2\].*changed since"):
        from_answer(answer(fake, citations=(first, edited)), fake.document)
    whole = answer(fake)
    fake.remove(first.doc_id)
    with pytest.raises(StaleExportError, match="no longer indexed") as info:
        from_answer(whole, fake.document)
    assert isinstance(info.value, RagError) and info.value.status == 409


def test_a_marker_without_its_source_is_refused(fake):
    first, _ = two_sources(fake)
    with pytest.raises(ExportError, match=r"cites \[2\]"):
        from_answer(answer(fake, citations=(first,)), fake.document)


def test_a_brief_keeps_cited_claims_by_section_and_open_questions_without_citations(fake):
    export = from_brief(brief(fake), fake.document, title="Brief of the whole corpus", index_version=3, now=NOW)
    assert [s.heading for s in export.sections] == ["Key points", "Actors and their positions", "Tensions",
                                                     "Open questions"]
    points, actors, tensions, questions = export.sections
    assert [e.cited.text for e in points.entries] == [SUPPORTED]
    assert [(e.label, [c.text for c in e.children]) for e in actors.entries] == [
        ("Ministry (regulator)", ["The Ministry moved the date."])]
    assert tensions.entries[0].cited.citations == (1, 2)
    assert questions.entries[0].cited.text == "Will harbours be ready?"
    assert export.unverified == ("An uncited key point.", "Said nothing cited.")
    assert "index version 3" in export.header[0] and "4 of 4 passages read in 2 documents" in export.header[0]


@pytest.mark.parametrize("text", [TRICKY, "2027. The levy", "+ plus", "AT&T and 3 < 4 > 2", "back\\slash"])
def test_escaped_text_renders_as_written_in_a_commonmark_viewer(text):
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(escape(text))
    assert html.startswith("<p>") and html.count("<p>") == 1, html  # one paragraph: no list, heading or quote
    import html as html_lib

    rendered = html_lib.unescape(html.removeprefix("<p>").removesuffix("</p>\n"))
    assert rendered == text
    assert unescape(escape(text)) == text


def test_markdown_has_a_header_body_footnotes_and_the_exact_quotes(fake):
    first, second = two_sources(fake)
    odd = dataclasses.replace(answer(fake), question="Is *this* [the] date?")
    text = render(from_answer(odd, fake.document, now=NOW), "md").decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Is \\*this\\* \\[the\\] date?"
    assert lines[2].startswith("Exported 2026-05-03 09:30 UTC · index version 7")
    assert f"{SUPPORTED}[^1] It was announced earlier and owners asked for time.[^2][^1]" in text
    assert "## Not verified" in text and f"- {UNSUPPORTED}" in text
    assert text.index("## Not verified") < text.index("[^1]: ")
    assert md_references(text) == [1, 2, 1]
    sources = md_sources(text)
    assert [(s["n"], s["doc_id"], s["start"], s["end"]) for s in sources] == [
        (1, first.doc_id, first.start, first.end), (2, second.doc_id, second.start, second.end)]
    for s in sources:
        assert s["quote"] == LEVY_TEXT[s["start"]:s["end"]]
    assert "\n" in sources[1]["quote"]  # the quote's line break is kept, the next line indented
    assert "prepare.\u201d" in text and "\n    Harbour owners" in text


def test_a_brief_in_markdown_has_its_sections_and_nested_positions(fake):
    text = render(from_brief(brief(fake), fake.document, title="Brief", now=NOW), "md").decode("utf-8")
    assert "## Key points\n\n- The levy takes effect on 1 January 2027.[^1]\n" in text
    assert "- **Ministry (regulator)**\n    - The Ministry moved the date.[^2]\n" in text
    assert "## Tensions\n\n- Owners and the Ministry differ on timing.[^1][^2]" in text
    assert "## Open questions\n\n- Will harbours be ready?\n" in text
    assert "Nobody" not in text and "- An uncited key point." in text.split("## Not verified")[1]


def test_word_has_linked_markers_and_a_sources_section_with_the_exact_quotes(fake, tmp_path):
    path = write_export(from_brief(brief(fake), fake.document, title="Brief of all", now=NOW),
                        tmp_path / "brief.docx", now=NOW)
    paragraphs = docx_paragraphs(path)
    assert (paragraphs[0].style.name, paragraphs[0].text) == ("Heading 1", "Brief of all")
    styles = [(p.style.name, p.text) for p in paragraphs]
    assert ("Heading 2", "Key points") in styles and ("List Bullet", SUPPORTED + "[1]") in styles
    assert ("List Bullet 2", "The Ministry moved the date.[2]") in styles
    assert ("Heading 2", "Not verified") in styles
    sources = docx_sources(path)
    assert [s["n"] for s in sources] == [1, 2]
    for s in sources:
        assert s["quote"] == LEVY_TEXT[s["start"]:s["end"]]
    import zipfile

    body = zipfile.ZipFile(path).read("word/document.xml").decode()
    assert 'w:anchor="source_2"' in body and 'w:name="source_2"' in body
    import docx

    assert docx.Document(str(path)).core_properties.title == "Brief of all"


@pytest.mark.parametrize("name, message", [
    ("answer.pdf", "must end in .md or .docx"), ("answer", "must end in .md or .docx"),
    ("missing/answer.md", "no folder"), (".", "must end in"),
])
def test_an_unknown_suffix_or_missing_folder_is_one_clear_error(tmp_path, name, message):
    with pytest.raises(ExportError, match=message):
        check_target(tmp_path / name)


def test_a_folder_named_like_a_file_is_refused(tmp_path):
    (tmp_path / "out.md").mkdir()
    with pytest.raises(ExportError, match="it is a folder"):
        check_target(tmp_path / "out.md")


def test_a_failed_write_leaves_nothing_behind_and_the_old_file_intact(fake, tmp_path, monkeypatch):
    export = from_answer(answer(fake), fake.document, now=NOW)
    target = tmp_path / "answer.md"
    target.write_text("the earlier export\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ExportError, match="No space left on device"):
        write_export(export, target)
    assert target.read_text() == "the earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.md"]


def test_an_unwritable_folder_is_one_clear_error(fake, tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() == 0:  # root writes into read-only folders: refuse as the kernel would for others
        import tempfile

        def refused(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    try:
        with pytest.raises(ExportError, match="cannot export to .*a.docx: Permission denied"):
            write_export(from_answer(answer(fake), fake.document), folder / "a.docx")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_written_file_gets_the_usual_mode_and_a_download_name(fake, tmp_path):
    export = from_answer(answer(fake), fake.document, now=NOW)
    path = write_export(export, tmp_path / "a.md")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert file_name(export, "docx", NOW) == "answer-2026-05-03-when-does-the-levy-start.docx"


def test_an_empty_answer_is_nothing_to_export(fake):
    with pytest.raises(ExportError, match="nothing to export"):
        from_answer(Answer("q", "", False), fake.document)
