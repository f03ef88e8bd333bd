"""ROUGE of `rag summarize` on Multi-News clusters against a lead-3 baseline.

Usage: .venv/bin/python bench/bench_summary.py [--limit 30] [--data PATH] [--extractive] [--threads N]
       .venv/bin/python bench/bench_summary.py --scale 200   (time one summary of >= 200 chunks)

For each cluster (2-3 news articles) every article becomes a Document, chunked by the real
chunker, and `summarize` runs with the real embedder and generator (SmolLM2 by default), or
with a silent model under --extractive (every sentence is then a quoted fallback note).
Lead-3 is the first three sentences of the cluster (its articles concatenated in order); lead-k
takes as many leading sentences as the summary has, to compare at about the same length.
ROUGE-1/2/L F1 (rouge-score, Porter stemming; L is summary-level LCS over sentences split by
newlines, i.e. rougeLsum) against the reference summary; also the fraction of summary sentences
that are supported and cited, the words per summary, the seconds per summary, and how many
summary sentences are the model's own (verified) wording rather than quoted source sentences.
--scale N instead times one map-reduce summary of QMSum meetings (taken in order until they make
at least N chunks) and prints its coverage, the note hierarchy and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.config import Settings, configure_offline, eval_data_dir  # noqa: E402
from rag.ingest.chunking import chunk_document, split_sentences  # noqa: E402
from rag.summary.mapreduce import summarize  # noqa: E402
from rag.types import Document, DocumentInfo  # noqa: E402


class SilentGenerator:
    """A model that says nothing: measures the extractive path alone."""

    info = {"llm": "silent", "backend": "none"}
    context_window = 4096

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def stream(self, messages, *, max_tokens, stop=()):
        return iter(())


def cluster_documents(row: dict, settings: Settings) -> tuple[list[DocumentInfo], list, list[str]]:
    infos, chunks, texts = [], [], []
    for k, text in enumerate(row["documents"]):
        doc = Document(f"{row['id'][:12]}-{k}", f"multinews/{row['id']}/{k}.txt", f"Article {k + 1}", None, text,
                       "", 0.0)
        cs = chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)
        infos.append(DocumentInfo(doc.doc_id, doc.path, doc.title, None, "", 0, len(cs)))
        chunks.extend(cs)
        texts.append(text)
    return infos, chunks, texts


def lead(texts: list[str], k: int) -> list[str]:
    """The first k sentences of the cluster, its articles concatenated in order."""
    out: list[str] = []
    for text in texts:
        out += [" ".join(text[a:b].split()) for a, b in split_sentences(text)]
        if len(out) >= k:
            break
    return out[:k]


def scale(n_chunks: int, settings: Settings, embedder, generator) -> int:
    """Time one summary of a corpus of at least n_chunks chunks (QMSum meetings)."""
    from rag.summary.extractive import read_documents
    from rag.summary.mapreduce import draft_summary

    path = eval_data_dir() / "qmsum" / "summaries.jsonl"
    if not path.is_file():
        print(f"Error: QMSum data not found at {path} (set RAG_EVAL_DATA)", file=sys.stderr)
        return 1
    infos, chunks, seen = [], [], set()
    for line in path.open(encoding="utf-8"):
        row = json.loads(line)
        if row["meeting_id"] in seen:
            continue
        seen.add(row["meeting_id"])
        doc = Document(row["meeting_id"], f"qmsum/{row['meeting_id']}.txt", row["meeting_id"], None, row["document"],
                       "", 0.0)
        cs = chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)
        infos.append(DocumentInfo(doc.doc_id, doc.path, doc.title, None, "", 0, len(cs)))
        chunks.extend(cs)
        if len(chunks) >= n_chunks:
            break
    t0 = time.perf_counter()
    answer, coverage = summarize(infos, chunks, generator, embedder, settings)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    reading = read_documents(infos, chunks, embedder)
    read_s = time.perf_counter() - t1
    _, plan = draft_summary(reading, SilentGenerator(), embedder, settings)
    print(f"{coverage.documents} documents, {coverage.chunks_read}/{coverage.chunks_total} chunks read, "
          f"{len(reading.units)} sentences; note groups per level (4096-token window) {list(plan.levels)}")
    print(f"summary: {len(answer.sentences)} sentences, "
          f"{sum(s.supported for s in answer.sentences)} supported; {seconds:.1f} s in all "
          f"(read step alone {read_s:.1f} s)")
    for s_ in answer.sentences:
        print(f"  {s_.citations} {s_.text[:110]}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--data", type=Path, default=None, help="summaries.jsonl (default: RAG_EVAL_DATA/multinews)")
    parser.add_argument("--extractive", action="store_true", help="no LLM: measure the extractive path alone")
    parser.add_argument("--threads", type=int, default=0, help="threads for the local model (0: all cores)")
    parser.add_argument("--scale", type=int, default=0, metavar="N", help="time one summary of >= N chunks instead")
    args = parser.parse_args()
    configure_offline()
    from rouge_score import rouge_scorer

    from rag.embed.embedder import load_embedder
    from rag.generate.generator import load_generator

    settings = Settings.from_env(threads=args.threads or None)
    embedder = load_embedder(settings)
    generator = SilentGenerator() if args.extractive else load_generator(settings)
    if args.scale:
        return scale(args.scale, settings, embedder, generator)
    path = args.data or eval_data_dir() / "multinews" / "summaries.jsonl"
    if not path.is_file():
        print(f"Error: Multi-News data not found at {path} (set RAG_EVAL_DATA)", file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][: args.limit]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    systems = ("summarize", "lead-3", "lead-k")
    scores: dict[str, dict[str, list[float]]] = {name: {} for name in systems}
    cited, own, seconds, lengths = [], [], [], {name: [] for name in systems}
    for n, row in enumerate(rows, 1):
        infos, chunks, texts = cluster_documents(row, settings)
        t0 = time.perf_counter()
        answer, coverage = summarize(infos, chunks, generator, embedder, settings)
        seconds.append(time.perf_counter() - t0)
        assert coverage.chunks_read == coverage.chunks_total == len(chunks)
        cited.append(sum(1 for s in answer.sentences if s.supported and s.citations) / max(1, len(answer.sentences)))
        quotes = {c.quote for c in answer.citations}
        own.append(sum(1 for s in answer.sentences if s.text not in quotes) / max(1, len(answer.sentences)))
        ours = [s.text for s in answer.sentences]
        for name, sentences in (("summarize", ours), ("lead-3", lead(texts, 3)), ("lead-k", lead(texts, len(ours)))):
            result = scorer.score(row["summary"], "\n".join(sentences))
            for key, value in result.items():
                scores[name].setdefault(key, []).append(value.fmeasure)
            lengths[name].append(sum(len(s.split()) for s in sentences))
        print(f"[{n}/{len(rows)}] {seconds[-1]:.1f}s  R1 {scores['summarize']['rouge1'][-1]:.3f} "
              f"(lead-3 {scores['lead-3']['rouge1'][-1]:.3f})", file=sys.stderr)
    model = "extractive only (no LLM)" if args.extractive else generator.info.get("llm", "?")
    print(f"\nMulti-News, {len(rows)} clusters; model: {model}; embedder: {embedder.id}")
    print(f"{'system':<12}{'ROUGE-1':>9}{'ROUGE-2':>9}{'ROUGE-L':>9}{'words':>7}{'cited':>8}{'s/summary':>11}")
    for name in systems:
        r = {k: 100 * statistics.mean(v) for k, v in scores[name].items()}
        extra = (f"{100 * statistics.mean(cited):>7.1f}%{statistics.mean(seconds):>11.2f}" if name == "summarize"
                 else f"{'-':>8}{'-':>11}")
        print(f"{name:<12}{r['rouge1']:>9.2f}{r['rouge2']:>9.2f}{r['rougeLsum']:>9.2f}"
              f"{statistics.mean(lengths[name]):>7.0f}{extra}")
    print(f"median s/summary {statistics.median(seconds):.2f}, max {max(seconds):.2f}; "
          f"sentences in the model's own (verified) words: {100 * statistics.mean(own):.1f}%, "
          f"the rest are quoted source sentences")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
