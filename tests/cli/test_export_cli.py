"""`rag ask|summarize|brief --export PATH` through rag.cli.main with the fake Assistant: the file is
written beside the usual output, a bad path or suffix is one `Error:` line before any work."""

from __future__ import annotations

from typing import Any, Sequence

import pytest

from rag.cli import main as cli
from tests.export.readback import docx_sources, md_sources
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, UNSUPPORTED, FakeAssistant, fake_assistant


class CliFake(FakeAssistant):
    """The server's fake with what the CLI also needs: a context manager and progress arguments."""

    def __enter__(self) -> "CliFake":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def summarize(self, doc_ids: Sequence[str] = (), on_token: Any = None, progress: Any = None):  # type: ignore[override]
        return super().summarize(doc_ids, on_token)

    def brief(self, doc_ids: Sequence[str] = (), progress: Any = None):  # type: ignore[override]
        return super().brief(doc_ids)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    made = fake_assistant(tmp_path / "index")
    made.__class__ = CliFake
    monkeypatch.setattr("rag.assistant.Assistant", lambda settings: made)
    return made


def test_ask_exports_markdown_and_still_prints_the_answer(fake, tmp_path, capsys):
    target = tmp_path / "levy.md"
    assert cli.main(["ask", "When does the levy start?", "--export", str(target)]) == 0
    out, err = capsys.readouterr()
    assert SUPPORTED in out and f"exported to {target} (1 sources, every quote checked)" in err
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# When does the levy start?\n") and UNSUPPORTED in text.split("## Not verified")[1]
    assert [s["quote"] for s in md_sources(text)] == [fake._citation().quote]


def test_brief_and_summarize_export_word_files(fake, tmp_path, capsys):
    brief = tmp_path / "brief.docx"
    assert cli.main(["brief", "--json", "--export", str(brief)]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith('{"key_points"')  # stdout keeps the JSON only
    sources = docx_sources(brief)
    assert sources and all(s["quote"] == LEVY_TEXT[s["start"]:s["end"]] for s in sources)
    import docx

    assert docx.Document(str(brief)).paragraphs[0].text == "Brief of the whole corpus"
    summary = tmp_path / "summary.markdown"
    assert cli.main(["summarize", "--export", str(summary)]) == 0
    assert summary.read_text(encoding="utf-8").startswith("# Summary of the whole corpus\n")


@pytest.mark.parametrize("command", [["ask", "q"], ["summarize"], ["brief"]])
@pytest.mark.parametrize("name, message", [("out.pdf", "the file name must end in .md or .docx"),
                                           ("no/such/folder/out.md", "no folder")])
def test_a_bad_export_path_is_one_error_line_before_any_work(fake, tmp_path, capsys, command, name, message):
    target = tmp_path / name
    assert cli.main([*command, "--export", str(target)]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot export to") and message in lines[0]
    assert out == "" and fake.finished == [] and fake.covered == []  # nothing was generated
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_export_with_batch_is_a_usage_error(fake, tmp_path, capsys):
    batch = tmp_path / "questions.txt"
    batch.write_text("a\nb\n")
    assert cli.main(["ask", "--batch", str(batch), "--export", str(tmp_path / "x.md")]) == 2
    assert "--export takes one QUESTION" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_help_names_the_export_option():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("ask", "summarize", "brief"):
        assert "--export PATH" in sub.choices[name].format_help()


def test_nothing_half_written_when_the_write_fails(fake, tmp_path, capsys, monkeypatch):
    import os

    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    assert cli.main(["ask", "q", "--export", str(tmp_path / "a.docx")]) == 1
    assert "Error: cannot export to" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

