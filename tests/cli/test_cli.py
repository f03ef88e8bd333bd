"""The `rag` command end to end: real packaged embedder, real FAISS, real files (DESIGN §3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: str, index: Path, stdin: str | None = None, extra_env: dict | None = None):
    env = {**os.environ, "RAG_INDEX": str(index), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=600)


def test_help_imports_no_heavy_library_and_usage_errors_exit_2(tmp_path):
    out = run("--help", index=tmp_path)
    assert out.returncode == 0 and "ingest" in out.stdout
    probe = "import sys; from rag.cli.main import build_parser; build_parser(); " \
            "print(sorted(m for m in ('torch', 'faiss', 'llama_cpp', 'openvino', 'numpy') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"  # what makes `rag --help` instant; bench times it
    bad = run("search", "--mode", "fuzzy", "x", index=tmp_path)
    assert bad.returncode == 2


@pytest.mark.parametrize("args, message", [
    (("search", "--since", "2026-13-45", "x"), "'2026-13-45' is not a date"),
    (("search", "--until", "last week", "x"), "'last week' is not a date"),
    (("search", "-k", "0", "x"), "'0' is not a whole number of at least 1"),
    (("ask", "-k", "-3", "x"), "'-3' is not a whole number of at least 1"),
    (("search", "--bogus", "x"), "unrecognized arguments: --bogus"),
])
def test_bad_options_exit_2_with_the_subcommands_usage(tmp_path, args, message):
    out = run(*args, index=tmp_path / "index")
    assert out.returncode == 2 and out.stdout == "", out.stderr
    first, *usage = out.stderr.splitlines()
    assert first.startswith("Error: ") and message in first
    assert usage[0].startswith(f"usage: rag {args[0]} ")


def test_ingest_of_a_missing_path_is_one_error_line_and_creates_nothing(tmp_path):
    out = run("ingest", str(tmp_path / "no" / "such" / "path"), index=tmp_path / "index")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [f"Error: no such file or folder: {tmp_path / 'no' / 'such' / 'path'} "
                                               "(nothing was indexed)"]
    assert not (tmp_path / "index").exists()


def test_an_index_option_naming_a_file_is_one_error_line_not_a_traceback(tmp_path, corpus):
    not_a_folder = tmp_path / "index.txt"
    not_a_folder.write_text("notes")
    out = run("ingest", str(corpus), index=not_a_folder)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"Error: --index {not_a_folder} is a file, not a folder: pass a folder (it is created if missing)"]
    assert not_a_folder.read_text() == "notes"


def test_missing_index_is_one_error_line(tmp_path):
    out = run("docs", index=tmp_path / "nowhere")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert str(tmp_path / "nowhere") in lines[0] and "rag ingest" in lines[0]
    assert out.stdout == ""


def test_common_options_go_before_or_after_the_subcommand():
    from rag.cli.main import build_parser

    parser = build_parser()
    before = parser.parse_args(["--index", "/tmp/a", "--json", "--model", "m.gguf", "ask", "q?"])
    after = parser.parse_args(["ask", "q?", "--index", "/tmp/a", "--json", "--model", "m.gguf"])
    for args in (before, after):
        assert (args.index, args.json, args.model, args.command, args.question) == ("/tmp/a", True, "m.gguf", "ask", "q?")
    plain = parser.parse_args(["docs"])
    assert (plain.index, plain.json, plain.embedder) == (None, False, None)
    assert parser.parse_args(["--index", "/a", "docs", "--index", "/b"]).index == "/b"  # the nearer one wins


def test_index_before_the_subcommand_reaches_the_command(tmp_path):
    out = run("--index", str(tmp_path / "elsewhere"), "docs", index=tmp_path / "env-index")
    assert out.returncode == 1 and str(tmp_path / "elsewhere") in out.stderr


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "examples"
    shutil.copytree(EXAMPLES, corpus)
    index = base / "index"
    out = run("ingest", str(corpus), "--exclude", "README.md", "--json", index=index)
    assert out.returncode == 0, out.stderr
    return corpus, index, json.loads(out.stdout)


@pytest.mark.e2e
def test_ingest_every_format_and_list(indexed):
    corpus, index, report = indexed
    assert report["added"] == 5 and report["failed"] == [] and report["chunks"] >= 5
    assert set(report) == {"added", "updated", "unchanged", "removed", "documents", "chunks", "seconds", "failed"}
    docs = json.loads(run("docs", "--json", index=index).stdout)
    assert {Path(d["path"]).suffix for d in docs} == {".md", ".txt", ".html", ".pdf", ".docx"}
    for d in docs:
        assert set(d) == {"doc_id", "path", "title", "date", "sha256", "pages", "chunks"}
        assert d["title"] and d["date"] and d["chunks"] > 0
    pdf = next(d for d in docs if d["path"].endswith(".pdf"))
    assert pdf["pages"] >= 2


@pytest.mark.e2e
def test_show_and_search_offsets_and_pages(indexed):
    corpus, index, _ = indexed
    hits = json.loads(run("search", "flood-defence levy start date", "--json", "-k", "8", index=index).stdout)
    assert 1 <= len(hits) <= 8
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    shown = {}
    for h in hits:
        assert set(h) == {"rank", "score", "chunk_id", "doc_id", "path", "title", "page", "start", "end", "text"}
        if h["doc_id"] not in shown:
            shown[h["doc_id"]] = json.loads(run("show", h["doc_id"], "--json", index=index).stdout)
        doc = shown[h["doc_id"]]
        assert doc["text"][h["start"]:h["end"]] == h["text"]
        if h["path"].endswith(".pdf"):
            page = next(p for p in doc["pages"] if p["start"] <= h["start"] < p["end"])
            assert h["page"] == page["page"]
    md = next(Path(p) for p in corpus.iterdir() if p.suffix == ".md")
    md_doc = json.loads(run("show", str(md), "--json", index=index).stdout)
    assert md_doc["text"] == md.read_text(encoding="utf-8"), "for .md the text is the file's content, unchanged"


@pytest.mark.e2e
def test_search_batch_filters_and_modes(indexed):
    _, index, _ = indexed
    out = run("search", "--batch", "-", "--json", "-k", "2", index=index,
              stdin="grid storage target\nlevy postponed\n")
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) == 2 and all(len(json.loads(x)) == 2 for x in lines)
    recent = json.loads(run("search", "levy", "--since", "2026-04-01", "--json", index=index).stdout)
    docs = {d["doc_id"]: d for d in json.loads(run("docs", "--json", index=index).stdout)}
    assert recent and all(docs[h["doc_id"]]["date"] >= "2026-04-01" for h in recent)
    one = next(iter(docs))
    only = json.loads(run("search", "levy", "--doc", one, "--json", "--mode", "bm25", index=index).stdout)
    assert all(h["doc_id"] == one for h in only)
    human = run("search", "battery storage auction", "-k", "2", index=index)
    assert human.returncode == 0 and "1. [" in human.stdout


@pytest.mark.e2e
def test_bad_input_update_delete_and_rm(indexed, tmp_path):
    corpus, index, _ = indexed
    work = tmp_path / "work"
    shutil.copytree(corpus, work)
    idx = tmp_path / "idx"
    assert run("ingest", str(work), "--exclude", "README.md", index=idx).returncode == 0
    (work / "fake.pdf").write_bytes(b"not a pdf at all")
    (work / "fake.docx").write_bytes(b"PK\x03\x04 nope")
    txt = next(work.glob("*.txt"))
    txt.write_text(txt.read_text() + "\nAddendum: the levy board meets monthly.\n")
    next(work.glob("*.html")).unlink()
    out = run("ingest", str(work), "--exclude", "README.md", "--json", index=idx)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert (report["updated"], report["removed"], report["documents"]) == (1, 1, 4)
    assert {Path(f["path"]).name for f in report["failed"]} == {"fake.pdf", "fake.docx"}
    assert all(f["error"] for f in report["failed"])
    docs = json.loads(run("docs", "--json", index=idx).stdout)
    gone = run("rm", docs[0]["doc_id"], "--json", index=idx)
    assert json.loads(gone.stdout) == {"removed": [docs[0]["doc_id"]]}
    assert len(json.loads(run("docs", "--json", index=idx).stdout)) == 3
    missing = run("show", "nope", index=idx)
    assert missing.returncode == 1 and missing.stderr.startswith("Error:")


@pytest.mark.e2e
def test_embedder_mismatch_is_a_clear_error(indexed, tmp_path):
    _, index, _ = indexed
    from rag.config import packaged_embedder_path

    other = tmp_path / "my-minilm-copy"
    shutil.copytree(packaged_embedder_path(), other)
    (other / "config_sentence_transformers.json").write_text(
        (other / "config_sentence_transformers.json").read_text().replace("{", '{"note": "copy", ', 1))
    out = run("search", "levy", "--embedder", str(other), index=index)
    assert out.returncode == 1
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("Error:") and "embedder" in line and "rag ingest" in line
