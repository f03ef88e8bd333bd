"""Ingest speed by embedding backend, as cold processes, against plain SentenceTransformer.encode.

Writes the first N SciFact abstracts as files, then, in turn and `--repeat` times, runs fresh
processes: (plain) `SentenceTransformer(model).encode(texts)` fp32 of exactly the chunk texts the
ingest embeds, and a full ingest into an empty index with each backend (model load, reading,
chunking, embedding, SQLite, FAISS and BM25 included). Reports the best wall time of each. With
`--busy` the same comparison runs again while a second process (`while True: pass`) keeps one core
busy, and both speed-ups are printed. `--sweep` instead times the int8 embedding alone (a fresh
process per setting: model load, then the texts in the ingest's 1,024-text calls) for token budgets
per inference call and for stream/thread plans, idle and with one core busy; it set the embedding
constants of rag/thresholds.py.

    .venv/bin/python bench/bench_ingest.py --docs 1000 --backends plain,torch,openvino
    .venv/bin/python bench/bench_ingest.py --docs 1000 --backends plain,openvino,openvino-int8,cli --busy
    .venv/bin/python bench/bench_ingest.py --docs 1000 --sweep
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


_EMBED = """
import json, sys, time
t0 = time.perf_counter()
from rag.config import Settings
from rag.embed.backends import OpenVINOEmbedder
from rag.embed.cores import StreamPlan
from rag.embed.embedder import embedder_id
texts = json.load(open(sys.argv[1]))
opts = json.loads(sys.argv[2])
s = Settings.from_env()
plan = StreamPlan(opts["streams"], opts["threads"], 0, 0) if opts.get("streams") else None
emb = OpenVINOEmbedder(s.embedder_path, embedder_id(s), s.embed_batch_size, weights="int8", plan=plan)
emb.tokens_per_batch = opts.get("budget", emb.tokens_per_batch)
emb.load()
t1 = time.perf_counter()
for lo in range(0, len(texts), 1024):
    emb.embed(texts[lo:lo + 1024])
info = emb.info
print(json.dumps({"load_s": t1 - t0, "embed_s": time.perf_counter() - t1, "streams": info["streams"],
                  "free": info["free_cores"] if plan is None else "(fixed)", "budget": emb.tokens_per_batch}))
"""
_SWEEP = [  # (label, options): budgets at the rule's plan, then fixed plans
    ("budget 1024", {"budget": 1024}), ("budget 2048", {"budget": 2048}), ("budget 4096", {"budget": 4096}),
    ("budget 8192", {"budget": 8192}), ("2 streams x 1 thread", {"streams": 2, "threads": 1}),
    ("1 stream x 1 thread", {"streams": 1, "threads": 1}), ("1 stream x 2 threads", {"streams": 1, "threads": 2}),
]


def sweep(work: Path, repeat: int) -> None:
    """Time the int8 embedding of the texts in `work/texts.json` for each _SWEEP setting, as the
    machine is and with one core busy; best of `repeat` fresh processes each."""
    for label in ("as is", "one core busy"):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if label != "as is" else None
        try:
            time.sleep(1.0 if spinner else 0.0)
            rows = []
            for name, opts in _SWEEP:
                runs = [json.loads(run_cold([sys.executable, "-c", _EMBED, str(work / "texts.json"),
                                             json.dumps(opts)])[1].strip().splitlines()[-1]) for _ in range(repeat)]
                best = min(runs, key=lambda r: r["embed_s"])
                print(f"  {label}, {name}: {best['embed_s']:.1f} s", file=sys.stderr)
                rows.append([name, best["budget"], best["streams"], best["free"], round(best["load_s"], 2),
                             round(best["embed_s"], 1)])
            print(f"{label}: int8 embedding of {len(json.loads((work / 'texts.json').read_text()))} texts, "
                  f"best of {repeat} fresh processes; {machine_note()}")
            print(table(["setting", "tokens/call", "streams", "free cores", "load s", "embed s"], rows))
        finally:
            if spinner:
                spinner.kill()
                spinner.wait()


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
    ap.add_argument("--sweep", action="store_true",
                    help="time the int8 embedding alone per token budget and stream plan (idle, then one core busy)")
    args = ap.parse_args()
    settings = Settings.from_env()
    backends = args.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        write_scifact(work / "docs", args.docs)
        texts = chunk_texts(work / "docs", settings)
        (work / "texts.json").write_text(json.dumps(texts))
        if args.sweep:
            sweep(work, args.repeat)
            return
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
