"""Helpers shared by the bench scripts: corpus files, cold-process runs, timing tables."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import eval_data_dir  # noqa: E402
from rag.eval.run import load_qa_set, write_corpus  # noqa: E402

# Ingest in a fresh process with an explicitly chosen embedding backend (so the figure does not
# depend on how Settings maps "auto"); prints the IngestReport as JSON.
_INGEST = """
import json, sys, time
t0 = time.perf_counter()
from rag.assistant import Assistant
from rag.config import Settings
backend, folder, index = sys.argv[1:4]
settings = Settings.from_env(index_dir=index)
embedder = None
if backend in ("openvino", "openvino-int8"):
    from rag.embed.backends import make_fast_embedder
    from rag.embed.embedder import embedder_id
    embedder = make_fast_embedder(settings.embedder_path, embedder_id(settings), "openvino", settings.embed_batch_size,
                                  "int8" if backend == "openvino-int8" else "fp32")
elif backend == "torch":
    from rag.embed.embedder import SentenceTransformerEmbedder, embedder_id
    embedder = SentenceTransformerEmbedder(settings.embedder_path, embedder_id(settings), "torch", settings.embed_batch_size)
with Assistant(settings, embedder=embedder) as a:
    r = a.ingest([folder])
print(json.dumps({"documents": r.documents, "chunks": r.chunks, "added": r.added, "unchanged": r.unchanged,
                  "seconds": r.seconds, "process_s": time.perf_counter() - t0}))
"""


def scifact_dir() -> Path:
    folder = eval_data_dir() / "scifact"
    if not folder.is_dir():
        sys.exit(f"no SciFact data at {folder} (set RAG_EVAL_DATA)")
    return folder


def write_scifact(folder: Path, limit: int | None = None) -> dict[str, str]:
    """SciFact abstracts as files (title as heading), as `rag eval` writes them; path -> doc id."""
    corpus, _ = load_qa_set(scifact_dir())
    corpus = corpus[:limit] if limit else corpus
    return write_corpus(folder, [(r.id, r.title, r.text) for r in corpus])


def run_cold(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a fresh process; (wall seconds, stdout). Exits on failure."""
    t0 = time.perf_counter()
    proc = subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def ingest_cold(backend: str, folder: Path, index: Path) -> tuple[float, dict[str, Any]]:
    """Ingest `folder` into `index` in a fresh process with the given backend ("cli" = `rag ingest`;
    "openvino" runs fp32 weights, "openvino-int8" the int8 model)."""
    if backend == "cli":
        wall, out = run_cold([str(ROOT / ".venv/bin/rag"), "ingest", str(folder), "--index", str(index), "--json"])
    else:
        wall, out = run_cold([sys.executable, "-c", _INGEST, backend, str(folder), str(index)])
    return wall, json.loads(out.strip().splitlines()[-1])


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths)] + lines[1:])


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.1f} (other processes share the machine)"


@contextlib.contextmanager
def thresholds_set(**changes: Any) -> Iterator[None]:
    """THRESHOLDS with `changes` for the block, restored after (bench sweeps only: the modules hold the
    one frozen record, so it is changed in place)."""
    import dataclasses

    import rag.thresholds as thresholds

    original = dataclasses.replace(thresholds.THRESHOLDS)

    def put(record: Any) -> None:
        for field in dataclasses.fields(record):
            object.__setattr__(thresholds.THRESHOLDS, field.name, getattr(record, field.name))

    put(dataclasses.replace(original, **changes))
    try:
        yield
    finally:
        put(original)


@contextlib.contextmanager
def workdir_or_temporary(workdir: Path | None, prefix: str) -> Iterator[Path]:
    """`workdir` (kept after, so a re-run reuses its index), or a temporary folder removed after."""
    if workdir is not None:
        yield workdir
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
