"""A `kill -9` at any moment of an ingest leaves an index that loads; a re-run converges."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]

_WORKER = """
import sys, time
sys.path.insert(0, {root!r})
import rag.store.writer as ing
from rag import Assistant, Settings
from tests.fakes import HashingEmbedder
ing.BATCH_CHUNKS = 2
class Slow(HashingEmbedder):
    def embed(self, texts):
        time.sleep(0.01)
        return super().embed(texts)
Assistant(Settings.from_env({{}}, index_dir={index!r}), embedder=Slow()).ingest([{corpus!r}])
"""


def _make_corpus(folder: Path, n: int, version: int) -> None:
    folder.mkdir(exist_ok=True)
    rng = random.Random(version)
    words = "levy storage grid harbour minister budget flood battery port tariff council".split()
    for i in range(n):
        body = "\n\n".join(" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(3))
        (folder / f"note{i:03d}.txt").write_text(f"Note {i} v{version}\n\n2026-01-{1 + i % 28:02d}\n\n{body}\n")


def _snapshot(index: Path) -> dict:
    a = Assistant(Settings.from_env({}, index_dir=index), embedder=HashingEmbedder())
    docs = {}
    for d in a.documents():
        doc = a.document(d.doc_id)
        chunks = a._open().chunks([d.doc_id])
        assert all(doc.text[c.start:c.end] == c.text for c in chunks)
        docs[d.path] = (d.sha256, tuple((c.start, c.end) for c in chunks))
    stats = a.stats()
    indexes = a._search_indexes()
    assert len(indexes.vectors) == stats["chunks"] == len(indexes.keywords)
    a.close()
    return docs


def test_sigkill_during_ingest_then_rerun_converges(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _make_corpus(corpus, 40, version=1)
    script = _WORKER.format(root=str(ROOT), index=str(index), corpus=str(corpus))
    rng = random.Random(7)
    for round_no in range(6):
        if round_no == 3:
            _make_corpus(corpus, 30, version=2)  # changed files, and 10 files left from version 1
            for extra in sorted(corpus.glob("note03*.txt")):
                extra.unlink()
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (index / "manifest.json").exists():
            _snapshot(index)  # loads, and every stored chunk is consistent
    Assistant(Settings.from_env({}, index_dir=index), embedder=HashingEmbedder()).ingest([corpus])
    clean = tmp_path / "clean"
    Assistant(Settings.from_env({}, index_dir=clean), embedder=HashingEmbedder()).ingest([corpus])
    assert _snapshot(index) == _snapshot(clean)


@pytest.mark.e2e
def test_cli_ingest_killed_with_sigkill_still_loads(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _make_corpus(corpus, 120, version=3)
    rag = [sys.executable, "-m", "rag"]
    env = {**os.environ, "RAG_INDEX": str(index)}
    proc = subprocess.Popen(rag + ["ingest", str(corpus), "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (index / "rag.sqlite").exists():
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    docs = subprocess.run(rag + ["docs", "--json"], env=env, capture_output=True, text=True)
    assert docs.returncode == 0, docs.stderr
    rerun = subprocess.run(rag + ["ingest", str(corpus), "--json"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["documents"] == 120 and report["failed"] == []
    hits = subprocess.run(rag + ["search", "harbour levy", "--json", "-k", "3"], env=env, capture_output=True,
                          text=True)
    assert hits.returncode == 0 and len(json.loads(hits.stdout)) == 3
