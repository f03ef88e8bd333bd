"""Progress of long commands on stderr: a bar on a terminal, a line every few seconds in a log;
stdout holds the result only, and streamed tokens never share the terminal with a bar."""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path
from typing import Sequence

import pytest

from rag.cli.main import cmd_brief, cmd_summarize
from rag.cli.render import ProgressDisplay, progress_bar
from rag.store.writer import Progress
from rag.types import Answer, AnswerSentence, Brief, Citation, Claim, Coverage, TokenCallback
from tests.cli.test_cli import run


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


CITE = Citation(1, "d1", "d1-000", "/docs/levy.md", "Levy", None, 0, 15, "The levy rises.")


class FakeSummarizer:
    """summarize/brief that report progress, stream a draft, then go on reporting."""

    def __init__(self) -> None:
        self.stderr_at_first_token: str | None = None

    def _work(self, progress: Progress | None, on_token: TokenCallback | None = None) -> None:
        assert progress is not None, "the CLI passes a progress callback"
        for done in range(4):
            progress(done, 3, "sentences read")
        progress(0, 8, "tokens written")
        if on_token is not None:
            on_token("The levy ")
            self.stderr_at_first_token = sys.stderr.getvalue()
            on_token("rises.")
        progress(8, 8, "tokens written")

    def summarize(self, doc_ids: Sequence[str] = (), on_token: TokenCallback | None = None,
                  progress: Progress | None = None) -> Answer:
        self._work(progress, on_token)
        return Answer("Summary of the whole corpus", "The levy rises.", False,
                      (AnswerSentence("The levy rises.", (1,), True),), (CITE,), coverage=Coverage(1, 3, 3))

    def brief(self, doc_ids: Sequence[str] = (), progress: Progress | None = None) -> Brief:
        self._work(progress)
        return Brief((Claim("The levy rises.", (1,)),), (), (), (), (CITE,), Coverage(1, 3, 3))


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"doc_ids": [], "json": False, "no_stream": False, **kw})


def test_in_a_log_progress_is_a_line_per_phase_and_at_most_one_every_few_seconds(capsys) -> None:
    show = ProgressDisplay("summarize", log_every_s=3600)
    for done in range(4):
        show(done, 3, "sentences read")
    show(0, 8, "tokens written")
    show(5, 8, "tokens written")
    assert capsys.readouterr().err.splitlines() == ["summarize: 0/3 sentences read", "summarize: 0/8 tokens written"]
    ingest = ProgressDisplay("ingest", unit="files", log_every_s=0)
    ingest(1, 2, "b.txt")
    assert capsys.readouterr().err == "ingest: 1/2 files; b.txt\n"


def test_on_a_terminal_the_bar_is_cleared_before_the_summary_streams(monkeypatch) -> None:
    out, err = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    fake = FakeSummarizer()
    assert cmd_summarize(fake, args()) == 0
    assert fake.stderr_at_first_token is not None and "summarize" in fake.stderr_at_first_token
    assert err.getvalue() == fake.stderr_at_first_token, "nothing is drawn on stderr once tokens stream"
    assert fake.stderr_at_first_token.endswith("\r")  # the bar's line was cleared
    assert "The levy rises." in out.getvalue() and "summarize" not in out.getvalue()


def test_without_streaming_the_bar_runs_to_the_end_and_is_cleared(monkeypatch) -> None:
    out, err = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert cmd_summarize(FakeSummarizer(), args(no_stream=True)) == 0
    assert "8/8" in err.getvalue() and err.getvalue().endswith("\r")
    assert out.getvalue().startswith("The levy rises.[1]")


def test_json_and_piped_output_hold_the_result_only(capsys) -> None:
    assert cmd_summarize(FakeSummarizer(), args(json=True)) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["coverage"] == {"documents": 1, "chunks_read": 3, "chunks_total": 3}
    assert out.err.startswith("summarize: 0/3 sentences read\n")
    assert cmd_brief(FakeSummarizer(), args()) == 0
    out = capsys.readouterr()
    assert out.out.startswith("BRIEF") and "brief:" not in out.out
    assert out.err.startswith("brief: 0/3 sentences read\n")


def test_the_ingest_bar_keeps_its_shape(capsys) -> None:
    with progress_bar() as progress:
        progress(0, 2, "/docs/a.txt")
    assert capsys.readouterr().err == "ingest: 0/2 files; /docs/a.txt\n"


@pytest.mark.e2e
def test_summarize_and_brief_show_progress_on_stderr_only(tmp_path: Path, corpus: Path) -> None:
    index = tmp_path / "index"
    assert run("ingest", str(corpus), index=index).returncode == 0
    fast = {"RAG_MAX_TOKENS": "32"}
    summary = run("summarize", index=index, extra_env=fast)
    assert summary.returncode == 0, summary.stderr
    assert "summarize: 0/" in summary.stderr and "sentences read" in summary.stderr
    assert "tokens written" in summary.stderr
    assert "summarize:" not in summary.stdout
    assert re.search(r"\n\(read (\d+) of \1 chunks in 3 documents\)\n$", summary.stdout), summary.stdout
    brief = run("brief", "--json", index=index, extra_env=fast)
    assert brief.returncode == 0, brief.stderr
    assert json.loads(brief.stdout)["coverage"]["documents"] == 3
    assert "brief: 0/" in brief.stderr
