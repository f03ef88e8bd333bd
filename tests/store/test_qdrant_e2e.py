"""`rag ingest` and `rag ask` over `--store qdrant:PATH` through the real models: the same verified
answers, with the same citations, as over the local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("qdrant_client")
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "When does the coastal levy take effect?",
    "How much will the levy raise each year?",
    "What did the ministry say about grid storage targets?",
    "What is the boiling point of liquid nitrogen in Kelvin?",
]


def _rag(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_STORE")}
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          input=stdin, timeout=900)


def _answers(index: Path, store: str) -> tuple[dict, list[dict], list]:
    ingest = _rag("ingest", str(ROOT / "examples"), "--exclude", "README.md", "--index", str(index),
                  "--store", store, "--json")
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    ask = _rag("ask", "--batch", "-", "--json", "--index", str(index), "--store", store, stdin="\n".join(QUESTIONS))
    assert ask.returncode == 0, ask.stderr
    answers = [json.loads(line) for line in ask.stdout.splitlines()]
    hits = _rag("search", "grid storage target", "-k", "5", "--json", "--since", "2026-01-01", "--index", str(index),
                "--store", store)
    assert hits.returncode == 0, hits.stderr
    return report, answers, [(h["chunk_id"], h["start"], h["end"]) for h in json.loads(hits.stdout)]


def _verified(answer: dict) -> tuple:
    return (answer["answer"], answer["refused"],
            [(c["doc_id"], c["start"], c["end"], c["quote"]) for c in answer["citations"]],
            [(s["text"], s["supported"]) for s in answer["sentences"]])


def test_ask_gives_the_same_verified_answer_over_either_store(tmp_path):
    local_report, local, local_hits = _answers(tmp_path / "local", "local")
    q_report, qdrant, qdrant_hits = _answers(tmp_path / "q-index", f"qdrant:{tmp_path / 'qdrant'}")
    assert (q_report["documents"], q_report["chunks"]) == (local_report["documents"], local_report["chunks"]) == (
        5, local_report["chunks"])
    assert (tmp_path / "qdrant" / "collection" / "briefing_rag").is_dir()
    assert not list((tmp_path / "q-index").glob("vectors.g*.faiss")), "no FAISS files in Qdrant mode"
    assert [_verified(a) for a in qdrant] == [_verified(a) for a in local]
    assert local[0]["citations"] and local[-1]["refused"]
    assert qdrant_hits == local_hits
    for answer in qdrant:
        for c in answer["citations"]:
            shown = json.loads(_rag("show", c["doc_id"], "--json", "--index", str(tmp_path / "q-index"),
                                    "--store", f"qdrant:{tmp_path / 'qdrant'}").stdout)
            assert shown["text"][c["start"]:c["end"]] == c["quote"]
