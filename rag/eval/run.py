"""`rag eval`: retrieval, QA and summary quality on the common evaluation formats.

Each run builds its own index (a temporary folder, or `workdir` to keep and reuse it) by writing
every corpus record to a file and ingesting the folder through the real pipeline, so the figures
measure what `rag ingest` + `rag search/ask/summarize` really do. `limit` takes a seeded random
sample (kept in file order), so two runs with the same arguments evaluate the same items.
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from rag.assistant import Assistant
from rag.config import Settings
from rag.errors import ConfigError
from rag.eval import metrics as m
from rag.types import Answer

TASKS = ("retrieval", "qa", "summary")
SEARCH_MODES = ("dense", "bm25", "hybrid")
DEFAULT_SEED = 13
TOP_K = 25  # chunks searched for the top-10 metrics: retrieval's 100 candidates, as for any k <= 25


@dataclass(frozen=True)
class Record:
    """One corpus document."""

    id: str
    title: str
    text: str
    date: str | None = None
    """ISO day the source gives the document (news articles), written into its file's front matter."""


@dataclass(frozen=True)
class Question:
    """A query with its graded relevant documents and gold answers."""

    id: str
    text: str
    answers: tuple[str, ...]
    relevant: dict[str, float]
    unanswerable: bool
    date: str | None = None  # the question's own date (dated news quizzes), YYYY-MM-DD


@dataclass(frozen=True)
class SummaryItem:
    """A cluster of documents and its reference summary."""

    id: str
    documents: tuple[str, ...]
    reference: str


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"{path}:{n}: not JSON ({exc.msg})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _field(row: dict[str, Any], name: str, path: Path) -> Any:
    if name not in row:
        raise ConfigError(f"{path}: a record has no {name!r} field")
    return row[name]


def load_qa_set(folder: Path) -> tuple[list[Record], list[Question]]:
    """Corpus and questions of `folder`: corpus.jsonl + questions.jsonl, or BEIR (corpus, queries, qrels/test.tsv)."""
    folder = Path(folder)
    if (folder / "questions.jsonl").is_file() and (folder / "corpus.jsonl").is_file():
        corpus = [Record(str(_field(r, "id", folder / "corpus.jsonl")), str(r.get("title") or ""),
                         str(_field(r, "text", folder / "corpus.jsonl")), _iso(r.get("date")))
                  for r in _jsonl(folder / "corpus.jsonl")]
        questions = []
        for r in _jsonl(folder / "questions.jsonl"):
            answers = tuple(str(a) for a in r.get("answers") or ())
            questions.append(Question(
                id=str(_field(r, "id", folder / "questions.jsonl")), text=str(_field(r, "question", folder)),
                answers=answers, relevant={str(d): 1.0 for d in r.get("evidence_doc_ids") or ()},
                unanswerable=bool(r.get("is_impossible", not answers)),
                date=str(r["question_date"]).replace("/", "-")[:10] if r.get("question_date") else None))
        return corpus, questions
    qrels = folder / "qrels" / "test.tsv"
    if (folder / "corpus.jsonl").is_file() and (folder / "queries.jsonl").is_file() and qrels.is_file():
        corpus = [Record(str(r["_id"]), str(r.get("title") or ""), str(r.get("text") or ""))
                  for r in _jsonl(folder / "corpus.jsonl")]
        relevant: dict[str, dict[str, float]] = {}
        for n, line in enumerate(qrels.read_text(encoding="utf-8").splitlines()):
            parts = line.split("\t")
            if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3 and float(parts[2]) > 0:
                relevant.setdefault(parts[0], {})[parts[1]] = float(parts[2])
        questions = [Question(str(r["_id"]), str(r["text"]), (), relevant[str(r["_id"])], False)
                     for r in _jsonl(folder / "queries.jsonl") if str(r["_id"]) in relevant]
        return corpus, questions
    raise ConfigError(f"{folder}: no corpus.jsonl + questions.jsonl (nor BEIR corpus/queries/qrels) found")


def load_summary_set(folder: Path) -> list[SummaryItem]:
    """Items of `folder`/summaries.jsonl; `documents` (a list) when present, else `document`."""
    path = Path(folder) / "summaries.jsonl"
    if not path.is_file():
        raise ConfigError(f"{folder}: no summaries.jsonl found")
    items = []
    for r in _jsonl(path):
        docs = r.get("documents") or [_field(r, "document", path)]
        items.append(SummaryItem(str(_field(r, "id", path)), tuple(str(d) for d in docs if str(d).strip()),
                                 str(_field(r, "summary", path))))
    return items


def in_month(questions: Sequence[Question], month: str | None) -> list[Question]:
    """The questions dated in `month` (YYYY-MM), all of them when no month is given."""
    if month is None:
        return list(questions)
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise ConfigError(f"--month must be YYYY-MM, not {month!r}")
    return [q for q in questions if q.date and q.date.startswith(month)]


def sample(items: Sequence[Any], limit: int | None, seed: int = DEFAULT_SEED) -> list[Any]:
    """`limit` items drawn at random with `seed`, kept in their original order (all when no limit)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def _iso(value: object) -> str | None:
    """A corpus row's date ("2025/03/07", "2025-03-07T...") as YYYY-MM-DD, else None."""
    text = str(value or "").replace("/", "-")[:10]
    return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None


def write_corpus(folder: Path, docs: Sequence[tuple[str, ...]]) -> dict[str, str]:
    """Write (key, title, text[, date]) documents as files; returns resolved path -> key.

    A titled document becomes `NNNNNN.md` starting with `# title`, an untitled one `NNNNNN.txt`; a
    dated one has a `Date: YYYY-MM-DD` line above its text, as a news article's header gives it (the
    readers take the document date from it). Unchanged files are left alone (so a re-run is an
    unchanged ingest) and stray files removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    for n, (key, title, text, *rest) in enumerate(docs):
        title = " ".join(title.split())
        day = rest[0] if rest else None
        path = folder / (f"{n:06d}.md" if title else f"{n:06d}.txt")
        body = f"Date: {day}\n\n{text}" if day else text
        content = f"# {title}\n\n{body}\n" if title else f"{body}\n"
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        mapping[str(path.resolve())] = key
    for stray in folder.iterdir():
        if stray.is_file() and str(stray.resolve()) not in mapping:
            stray.unlink()
    return mapping


def _bar(total: int, label: str, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="q", file=sys.stderr, disable=None if show else True, dynamic_ncols=True,
                leave=False)


class _Workspace:
    """The evaluation index: documents written to files, ingested into their own index folder."""

    def __init__(self, stack: ExitStack, settings: Settings, workdir: Path | None, **models: Any) -> None:
        root = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-eval-")))
        self.docs_dir = root / "docs"
        self.assistant = stack.enter_context(Assistant(settings.with_(index_dir=root / "index"), **models))
        self.ingest: dict[str, Any] = {}

    def build(self, docs: Sequence[tuple[str, ...]], show: bool) -> dict[str, str]:
        mapping = write_corpus(self.docs_dir, docs)
        bar = _bar(len(docs), "ingest", show)
        try:
            report = self.assistant.ingest([self.docs_dir], progress=lambda done, total, path: bar.update(done - bar.n))
        finally:
            bar.close()
        if report.failed:
            raise ConfigError(f"{len(report.failed)} evaluation documents failed to ingest: {report.failed[0].error}")
        self.ingest = {"documents": report.documents, "chunks": report.chunks, "seconds": report.seconds,
                       "added": report.added, "unchanged": report.unchanged,
                       "chunks_per_s": round(report.chunks / report.seconds, 1) if report.seconds else None}
        return mapping


def _corpus_for(corpus: Sequence[Record], questions: Sequence[Question], max_docs: int | None) -> list[Record]:
    """The corpus, capped at `max_docs`: every evidence document of `questions`, then others in file order."""
    if max_docs is None or max_docs >= len(corpus):
        return list(corpus)
    needed = {d for q in questions for d in q.relevant}
    keep = [r for r in corpus if r.id in needed]
    others = [r for r in corpus if r.id not in needed]
    chosen = {r.id for r in keep + others[: max(0, max_docs - len(keep))]}
    return [r for r in corpus if r.id in chosen]


def _ms(values: Sequence[float]) -> dict[str, float | None]:
    return {"p50": _round(m.percentile(values, 50), 1), "p95": _round(m.percentile(values, 95), 1)}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def eval_retrieval(data: Path, settings: Settings, *, limit: int | None = None, seed: int = DEFAULT_SEED,
                   k: int = 200, modes: Sequence[str] = SEARCH_MODES, max_docs: int | None = None,
                   workdir: Path | None = None, progress: bool = True, month: str | None = None,
                   **models: Any) -> dict[str, Any]:
    """nDCG@10, recall@5/@100 and MRR@10 (document level: a document scores as its best chunk)
    for each search mode, plus ingest speed and warm search latency; dated questions search as of
    their own date."""
    corpus, questions = load_qa_set(data)
    questions = sample([q for q in in_month(questions, month) if q.relevant], limit, seed)
    if not questions:
        raise ConfigError(f"{data}: no question has relevant documents to evaluate retrieval with")
    corpus = _corpus_for(corpus, questions, max_docs)
    with ExitStack() as stack:
        ws = _Workspace(stack, settings, workdir, **models)
        mapping = ws.build([(r.id, r.title, r.text, r.date) for r in corpus], progress)
        ws.assistant.search(questions[0].text, k=1)  # load the model and indexes before timing
        per_mode: dict[str, dict[str, Any]] = {}
        for mode in modes:
            scores: dict[str, list[float]] = {}
            latency: list[float] = []
            bar = _bar(len(questions), mode, progress)
            for q in questions:
                t0 = time.perf_counter()
                hits = ws.assistant.search(q.text, k=TOP_K, mode=mode, as_of=q.date)
                latency.append((time.perf_counter() - t0) * 1000)
                top = m.doc_ranking(mapping.get(h.path, h.path) for h in hits)
                deep = m.doc_ranking(mapping.get(h.path, h.path)
                                     for h in ws.assistant.search(q.text, k=k, mode=mode, as_of=q.date))
                for name, value in m.ranking_metrics(top, q.relevant).items():
                    scores.setdefault(name, []).append(value)
                scores["recall@100"][-1] = m.recall_at_k(deep, q.relevant, 100)
                bar.update(1)
            bar.close()
            per_mode[mode] = {**{n: _round(m.mean(v)) for n, v in scores.items()}, "latency_ms": _ms(latency)}
    return {"task": "retrieval", "data": str(data), "questions": len(questions), "corpus_docs": len(corpus),
            "sample": _sample_note(limit, seed), "k": k, "dense_weight": settings.dense_weight, "month": month,
            "ingest": ws.ingest, "modes": per_mode}


def _sample_note(limit: int | None, seed: int) -> str:
    return "all, in file order" if limit is None else f"seeded random sample of {limit} (seed {seed}), in file order"


def _doc_of_chunk(chunk_id: str) -> str:
    return chunk_id.rsplit("-", 1)[0]


def eval_qa(data: Path, settings: Settings, *, limit: int | None = None, seed: int = DEFAULT_SEED,
            max_docs: int | None = None, workdir: Path | None = None, progress: bool = True,
            month: str | None = None, **models: Any) -> dict[str, Any]:
    """Answer rates, gold-answer containment, citation validity/precision, refusals and latency;
    dated questions are asked as of their own date (relative dates in them are read from there)."""
    corpus, questions = load_qa_set(data)
    questions = sample(in_month(questions, month), limit, seed)
    if not questions:
        raise ConfigError(f"{data}: no questions")
    corpus = _corpus_for(corpus, questions, max_docs)
    answerable = [q for q in questions if not q.unanswerable and q.answers]
    rows: list[tuple[Question, Answer, list[bool], list[bool], bool]] = []
    with ExitStack() as stack:
        ws = _Workspace(stack, settings, workdir, **models)
        mapping = ws.build([(r.id, r.title, r.text, r.date) for r in corpus], progress)
        by_doc = {d.doc_id: mapping.get(d.path, d.path) for d in ws.assistant.documents()}
        texts: dict[str, str] = {}
        bar = _bar(len(questions), "ask", progress)
        for q in questions:
            answer = ws.assistant.ask(q.text, as_of=q.date)
            valid, holds_gold = [], []
            for c in answer.citations:
                if c.doc_id not in texts:
                    texts[c.doc_id] = ws.assistant.document(c.doc_id).text
                valid.append(bool(c.quote) and texts[c.doc_id][c.start:c.end] == c.quote)
                holds_gold.append(m.contains_gold(c.quote, q.answers))
            retrieved = {by_doc.get(_doc_of_chunk(cid)) for cid in answer.chunk_ids}
            rows.append((q, answer, valid, holds_gold, bool(retrieved & set(q.relevant))))
            bar.update(1)
        bar.close()
    ans = [r for r in rows if r[0] in answerable]
    unans = [r for r in rows if r[0].unanswerable]
    answered = [r for r in ans if not r[1].refused]
    cites = [v for r in rows for v in r[2]]
    gold_cites = [g for r in ans for g in r[3]]
    metrics = {
        "answered_rate": m.mean(float(not r[1].refused) for r in ans),
        "refused_rate": m.mean(float(r[1].refused) for r in rows),
        "contains_gold": m.mean(float(not r[1].refused and m.contains_gold(r[1].answer, r[0].answers)) for r in ans),
        "contains_gold_when_answered": m.mean(float(m.contains_gold(r[1].answer, r[0].answers)) for r in answered),
        "evidence_retrieved": m.mean(float(r[4]) for r in ans if r[0].relevant),
        "citation_validity": m.mean(float(v) for v in cites),
        "citation_precision": m.mean(float(g) for g in gold_cites),
        "citations_per_answer": m.mean(float(len(r[1].citations)) for r in answered),
        "refusal_on_unanswerable": m.mean(float(r[1].refused) for r in unans),
    }
    first = [r[1].timings["first_token_ms"] for r in rows if r[1].timings.get("first_token_ms") is not None]
    return {"task": "qa", "data": str(data), "questions": len(rows), "answerable": len(ans),
            "unanswerable": len(unans), "corpus_docs": len(corpus), "month": month,
            "sample": _sample_note(limit, seed), "ingest": ws.ingest, "metrics": {k: _round(v) for k, v in metrics.items()},
            "latency_ms": {"first_token": _ms(first), "total": _ms([r[1].timings["total_ms"] for r in rows])}}


def eval_summary(data: Path, settings: Settings, *, limit: int | None = None, seed: int = DEFAULT_SEED,
                 workdir: Path | None = None, progress: bool = True, **models: Any) -> dict[str, Any]:
    """ROUGE-1/2/L F of `summarize` over each cluster vs its reference, a lead-3 baseline, and citation coverage."""
    items = sample(load_summary_set(data), limit, seed)
    if not items:
        raise ConfigError(f"{data}: no summaries")
    docs = [(f"{item.id}\0{i}", "", text) for item in items for i, text in enumerate(item.documents)]
    system: dict[str, list[float]] = {}
    lead: dict[str, list[float]] = {}
    cited: list[float] = []
    supported: list[float] = []
    seconds: list[float] = []
    with ExitStack() as stack:
        ws = _Workspace(stack, settings, workdir, **models)
        mapping = ws.build(docs, progress)
        cluster_docs: dict[str, list[str]] = {}
        for d in ws.assistant.documents():
            cluster_docs.setdefault(mapping[d.path].split("\0")[0], []).append(d.doc_id)
        bar = _bar(len(items), "summarize", progress)
        for item in items:
            t0 = time.perf_counter()
            answer = ws.assistant.summarize(cluster_docs[item.id])
            seconds.append(time.perf_counter() - t0)
            for name, value in m.rouge_f(answer.answer, item.reference).items():
                system.setdefault(name, []).append(value)
            for name, value in m.rouge_f(m.lead_n(item.documents, 3), item.reference).items():
                lead.setdefault(name, []).append(value)
            sentences = answer.sentences
            if sentences:
                cited.append(sum(1 for s in sentences if s.citations) / len(sentences))
                supported.append(sum(1 for s in sentences if s.supported) / len(sentences))
            bar.update(1)
        bar.close()
    return {"task": "summary", "data": str(data), "items": len(items), "documents": len(docs),
            "sample": _sample_note(limit, seed), "ingest": ws.ingest,
            "system": {k: _round(m.mean(v)) for k, v in system.items()},
            "lead3": {k: _round(m.mean(v)) for k, v in lead.items()},
            "sentences_cited": _round(m.mean(cited)), "sentences_supported": _round(m.mean(supported)),
            "seconds_per_summary": _ms([s * 1000 for s in seconds])}


def run_eval(task: str, data: Path, settings: Settings, **options: Any) -> dict[str, Any]:
    """Dispatch to the evaluation of `task` (retrieval, qa or summary)."""
    if not Path(data).is_dir():
        raise ConfigError(f"evaluation data folder {data} not found")
    runner = {"retrieval": eval_retrieval, "qa": eval_qa, "summary": eval_summary}.get(task)
    if runner is None:
        raise ConfigError(f"unknown evaluation task {task!r}: use one of {', '.join(TASKS)}")
    if task != "retrieval":
        options.pop("k", None)
    if task == "summary":
        options.pop("max_docs", None)
    if task == "summary" and options.pop("month", None):
        raise ConfigError("--month applies to `rag eval qa` and `rag eval retrieval` only")
    return runner(Path(data), settings, **options)
