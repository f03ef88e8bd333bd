"""Sentence splitting and chunking alone (no embedding): seconds and peak RSS per 10 MB of text.

Each (case, size) runs in a fresh process that reads the text from a file written here, then times
`split_sentences` over the whole text and `chunk_document` (which splits again and packs), and
reports the process's peak RSS (VmHWM, restarted once the text is loaded) against its RSS then. Cases are generated here
(random words on one line, random-word prose with paragraphs, Markdown-like structured prose, and
hostile runs of full stops, heading lines full of spaces, a run of punctuation between two
sentences); none comes from the eval data.

    .venv/bin/python bench/bench_chunking.py                          # 1, 2, 5, 10 MB of every case
    .venv/bin/python bench/bench_chunking.py --cases one-line --sizes 10
    .venv/bin/python bench/bench_chunking.py --src /tmp/old-tree      # the rag/ package of another tree
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from _util import ROOT, machine_note, table

MB = 1 << 20

_CHILD = """
import gc, json, re, sys, time
sys.path.insert(0, sys.argv[1])
from rag.ingest.chunking import chunk_document
from rag.ingest.sentences import split_sentences
from rag.types import Document
text = open(sys.argv[2], encoding="utf-8").read()
gc.collect()
def status(key):
    with open("/proc/self/status") as fh:
        return int(re.search(key + r":\\s+(\\d+)", fh.read()).group(1)) / 1024
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # restart the peak (VmHWM) from the RSS with the text loaded
loaded = status("VmRSS")
t0 = time.perf_counter()
sentences = len(split_sentences(text))
split_s = time.perf_counter() - t0
doc = Document("bench", sys.argv[2], "bench", None, text, "0" * 64, 0.0)
t0 = time.perf_counter()
chunks = chunk_document(doc)
chunk_s = time.perf_counter() - t0
print(json.dumps({"loaded": loaded, "peak": status("VmHWM"),
                  "split_s": split_s, "chunk_s": chunk_s, "sentences": sentences, "chunks": len(chunks),
                  "longest": max((len(c.text) for c in chunks), default=0)}))
"""


def _vocab(rng: random.Random) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
            for _ in range(20_000)]


def one_line(total: int, seed: int = 5) -> str:
    """Random words separated by spaces: one line, no full stop (as bench_hostile's one-line case)."""
    rng = random.Random(seed)
    vocab, out, size = _vocab(rng), [], 0
    while size < total:
        part = " ".join(rng.choices(vocab, k=rng.randint(6, 25))) + " "
        out.append(part)
        size += len(part)
    return "".join(out)[:total]


def prose(total: int, seed: int = 5) -> str:
    """Sentences of random words ending in full stops, blank lines between paragraphs."""
    rng = random.Random(seed)
    vocab, out, size = _vocab(rng), [], 0
    while size < total:
        part = " ".join(rng.choices(vocab, k=rng.randint(6, 25))).capitalize() + ". "
        if rng.random() < 0.08:
            part += "\n\n"
        out.append(part)
        size += len(part)
    return "".join(out)[:total]


def structured(total: int, seed: int = 5) -> str:
    """Markdown-like briefing text: headings, bullets, abbreviations, decimals, citation markers."""
    rng = random.Random(seed)
    vocab, out, size = _vocab(rng), [], 0
    extras = ["Dr. Okafor", "U.S. officials", "3.5 per cent", "e.g. the levy", "No. 4", "[2]", "J. A. Smith"]
    while size < total:
        roll = rng.random()
        if roll < 0.03:
            part = f"\n## {' '.join(rng.choices(vocab, k=3)).title()}\n\n"
        elif roll < 0.10:
            part = f"- {' '.join(rng.choices(vocab, k=rng.randint(3, 12)))}\n"
        else:
            words = rng.choices(vocab, k=rng.randint(6, 25))
            words.insert(rng.randrange(len(words)), rng.choice(extras))
            part = " ".join(words).capitalize() + rng.choice([". ", ". ", "? ", ".\n", ".\n\n"])
        out.append(part)
        size += len(part)
    return "".join(out)[:total]


def full_stops(total: int) -> str:
    """Hostile: words joined by runs of 50 full stops with no space after (a regex backtracking trap)."""
    return ("word" + "." * 50) * (total // 54)


def punctuation_gap(total: int) -> str:
    """Hostile: prose, then half the text as one run of exclamation marks between two sentences."""
    return prose(total // 4) + " " + "!" * (total // 2) + " " + prose(total // 4, seed=6)


def spaced_headings(total: int) -> str:
    """Hostile: Markdown heading lines of 100,000 spaces between two words."""
    line = "# a" + " " * 100_000 + "b\n"
    return line * max(1, total // len(line))


CASES: dict[str, tuple[str, Callable[[int], str]]] = {
    "one-line": ("random words, one line, no full stop", one_line),
    "prose": ("random-word sentences, paragraphs", prose),
    "structured": ("Markdown-like: headings, bullets, abbreviations", structured),
    "full-stops": ("hostile: runs of 50 full stops, no space", full_stops),
    "spaced-headings": ("hostile: heading lines of 100k spaces", spaced_headings),
    "punctuation-gap": ("hostile: prose around a run of '!' half its size", punctuation_gap),
}


def measure(src: Path, path: Path, timeout: float) -> dict[str, float] | None:
    """The child's figures for one text file, or None when it ran past `timeout` seconds."""
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(path)], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(src)}, check=False)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        sys.exit(f"measuring {path.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--sizes", default="1,2,5,10", help="comma-separated sizes in MB")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a measurement is given up")
    parser.add_argument("--src", type=Path, default=ROOT, help="tree whose rag/ package is measured")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-chunking-") as tmp:
        for key in args.cases.split(","):
            label, make = CASES[key]
            for size in (float(s) for s in args.sizes.split(",")):
                if rows and rows[-1][0] == label and rows[-1][2].startswith((">", "skipped")):
                    rows.append([label, f"{size:g}", "skipped (smaller size over the limit)"] + ["-"] * 7)
                    continue
                path = Path(tmp) / f"{key}-{size:g}.txt"
                path.write_text(make(int(size * MB)), encoding="utf-8")
                got = measure(args.src.resolve(), path, args.timeout)
                if got is None:
                    rows.append([label, f"{size:g}", f"> {args.timeout:g}", "-", "-", "-", "-", "-", "-", "-"])
                    print(f"{key} {size:g} MB: over {args.timeout:g} s", file=sys.stderr, flush=True)
                    continue
                per_10 = 10 / size
                rows.append([label, f"{size:g}", f"{got['split_s']:.2f}", f"{got['chunk_s']:.2f}",
                             f"{got['chunk_s'] * per_10:.2f}", f"{got['loaded']:.0f}", f"{got['peak']:.0f}",
                             f"{(got['peak'] - got['loaded']) * per_10:.0f}", f"{got['chunks']:,}",
                             f"{got['longest']:,}"])
                print(f"{key} {size:g} MB: chunking {got['chunk_s']:.2f} s, peak {got['peak']:.0f} MiB",
                      file=sys.stderr, flush=True)
                path.unlink()
    print(table(["text", "MB", "split s", "split+chunk s", "s per 10 MB", "RSS loaded MiB", "peak RSS MiB",
                 "peak growth MiB per 10 MB", "chunks", "longest chunk chars"], rows))
    print(f"src: {args.src}; {machine_note()}")


if __name__ == "__main__":
    main()
