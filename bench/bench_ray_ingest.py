"""`rag ingest --ray` against the plain single-process `rag ingest`, in one run, as cold processes.

Writes the first N SciFact abstracts as files, then alternates, `--repeat` times, a plain
`rag ingest` and a `rag ingest --ray` (local Ray: started by the command itself, so its start-up is
counted, as a user pays it) into empty indexes, and reports the best wall time of each, their
ratio, and the fixed cost of Ray (an ingest of one small file with and without `--ray`). From those
it derives the corpus size past which Ray on W workers of this machine's speed would pay off.

    .venv/bin/python bench/bench_ray_ingest.py --docs 1000,3000 --repeat 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _util import ROOT, machine_note, run_cold, table, write_scifact


def ingest(folder: Path, index: Path, ray: bool) -> tuple[float, dict]:
    import json

    shutil.rmtree(index, ignore_errors=True)
    cmd = [str(ROOT / ".venv/bin/rag"), "ingest", str(folder), "--index", str(index), "--json"]
    wall, out = run_cold(cmd + (["--ray"] if ray else []))
    return wall, json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", default="1000", help="comma-separated SciFact abstract counts (default 1000)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"bench_ray_ingest: {machine_note()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    rows = []
    try:
        tiny = work / "tiny"
        tiny.mkdir()
        (tiny / "one.txt").write_text("A one-line note about grid storage.\n")
        fixed = {}
        for ray in (False, True):
            fixed[ray] = min(ingest(tiny, work / "index", ray)[0] for _ in range(args.repeat))
        overhead = fixed[True] - fixed[False]
        print(f"  one small file: plain {fixed[False]:.1f} s, --ray {fixed[True]:.1f} s", file=sys.stderr)
        for n in (int(d) for d in args.docs.split(",")):
            docs = work / f"docs-{n}"
            write_scifact(docs, n)
            best = {False: float("inf"), True: float("inf")}
            chunks = 0
            for _ in range(args.repeat):
                for ray in (False, True):
                    wall, report = ingest(docs, work / "index", ray)
                    chunks = report["chunks"]
                    print(f"  {n} docs {'--ray' if ray else 'plain'}: {wall:.1f} s", file=sys.stderr)
                    best[ray] = min(best[ray], wall)
            rows.append([n, chunks, round(best[False], 1), round(best[True], 1),
                         round(chunks / best[False], 1), round(chunks / best[True], 1),
                         round(best[False] / best[True], 2)])
        print(f"best of {args.repeat} cold runs each; {machine_note()}")
        print(table(["docs", "chunks", "plain s", "--ray s", "plain chunks/s", "--ray chunks/s",
                     "speed-up (plain / ray)"], rows))
        print(f"fixed cost of --ray (one small file): {overhead:.1f} s over the plain ingest's {fixed[False]:.1f} s")
        n, chunks, plain, ray = rows[-1][0], rows[-1][1], rows[-1][2], rows[-1][3]
        per_plain = (plain - fixed[False]) / chunks  # seconds a chunk, start-up taken out
        per_ray = (ray - fixed[True]) / chunks
        print(f"per chunk, start-up taken out: plain {per_plain * 1000:.1f} ms, --ray {per_ray * 1000:.1f} ms")
        for workers in (2, 4, 8, 16):
            # W workers like this machine embed W times as fast; Ray's start-up and the driver's commits stay
            gain = per_plain - per_ray / workers
            if gain > 0:
                pays = overhead / gain
                print(f"  {workers} such workers: Ray pays past ~{pays:,.0f} chunks (~{pays * n / chunks:,.0f} "
                      f"such documents); 1M chunks: plain {(fixed[False] + 1e6 * per_plain) / 3600:.1f} h, "
                      f"ray {(fixed[True] + 1e6 * per_ray / workers) / 3600:.2f} h")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
