"""Ingest speed by embedding backend, as cold processes, against plain SentenceTransformer.encode.

Writes the first N SciFact abstracts as files, then, in turn and `--repeat` times, runs fresh
processes: (plain) `SentenceTransformer(model).encode(texts)` fp32 of exactly the chunk texts the
ingest embeds, and a full ingest into an empty index with each backend (model load, reading,
chunking, embedding, SQLite, FAISS and BM25 included). Reports the best wall time of each. With
`--busy` the same comparison runs again while a second process (`while True: pass`) keeps one core
busy, and both speed-ups are printed.

    .venv/bin/python bench/bench_ingest.py --docs 1000 --backends plain,torch,openvino
    .venv/bin/python bench/bench_ingest.py --docs 1000 --backends plain,openvino,openvino-int8,cli --busy
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, ingest_cold, machine_note, run_cold, table, write_scifact

from rag.config import Settings
from rag.ingest.chunking import chunk_document
from rag.ingest.documents import read_document
from rag.ingest.sources import hash_file
from rag.store.sqlite import keyword_text

_PLAIN = """
import json, sys
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[2]))
SentenceTransformer(sys.argv[1], device="cpu").encode(texts, normalize_embeddings=True)
"""


def chunk_texts(folder: Path, settings: Settings) -> list[str]:
    """The texts an ingest of `folder` embeds (title + heading + chunk text), distinct."""
    texts: list[str] = []
    for path in sorted(folder.iterdir()):
        doc = read_document(hash_file(path))
        texts += [keyword_text(doc.title, c.heading, c.text)
                  for c in chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)]
    return list(dict.fromkeys(texts))


def compare(backends: list[str], repeat: int, work: Path, settings: Settings) -> tuple[dict[str, float], int]:
    """Best wall time of each backend over `repeat` rounds of cold runs; (times, chunks ingested)."""
    best: dict[str, float] = {}
    chunks = 0
    for _ in range(repeat):
        for backend in backends:
            if backend == "plain":
                wall, _ = run_cold([sys.executable, "-c", _PLAIN, settings.embedder_path, str(work / "texts.json")])
            else:
                shutil.rmtree(work / "index", ignore_errors=True)
                wall, report = ingest_cold(backend, work / "docs", work / "index")
                chunks = report["chunks"]
            print(f"  {backend}: {wall:.1f} s", file=sys.stderr)
            best[backend] = min(wall, best.get(backend, float("inf")))
    return best, chunks


def report(label: str, best: dict[str, float], texts: int, chunks: int, docs: int, repeat: int) -> None:
    """Print one comparison's table."""
    base = best.get("plain")
    rows = [[name, round(wall, 1), round(texts / wall, 1), round(base / wall, 2) if base else None]
            for name, wall in best.items()]
    print(f"{label}: {docs} SciFact abstracts -> {chunks or texts} chunks ({texts} distinct texts); "
          f"best of {repeat} cold runs; {machine_note()}")
    print(table(["run", "wall s", "texts/s", "speed-up vs plain"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1000, help="SciFact abstracts to ingest (default 1000)")
    ap.add_argument("--backends", default="plain,torch,openvino",
                    help="plain, torch, openvino (fp32), openvino-int8, cli (rag ingest as configured)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--busy", action="store_true",
                    help="run the comparison twice: as the machine is, then while a second process keeps one core busy")
    args = ap.parse_args()
    settings = Settings.from_env()
    backends = args.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        write_scifact(work / "docs", args.docs)
        texts = chunk_texts(work / "docs", settings)
        (work / "texts.json").write_text(json.dumps(texts))
        runs = [("as is", *compare(backends, args.repeat, work, settings))]
        report(runs[0][0], runs[0][1], len(texts), runs[0][2], args.docs, args.repeat)
        if args.busy:
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(1.0)
                runs.append(("one core busy", *compare(backends, args.repeat, work, settings)))
                report(runs[1][0], runs[1][1], len(texts), runs[1][2], args.docs, args.repeat)
            finally:
                spinner.kill()
                spinner.wait()
        print("plain = SentenceTransformer.encode fp32 (batch 32) only; the others are whole `ingest` processes")
        if "plain" in backends and len(backends) > 1:
            for name in [b for b in backends if b != "plain"]:
                print(f"speed-up of {name} vs plain: " + ", ".join(
                    f"{label} {best['plain'] / best[name]:.2f}x" for label, best, _ in runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
