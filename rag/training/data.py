"""Seeded (question, passage, label) pairs for the project's cross-encoder judge.

Only SQuAD 2.0 articles named in the split file's `train_titles` are read into pairs; a seeded
few of those are held back for calibration; `eval_titles` are never touched here. Label 1 means
"this passage answers the question". Positives: the question's own paragraph, and the sentence
holding the answer. Hard negatives: other paragraphs of the same article, BM25 neighbours among
the training paragraphs, the other sentences of the answering paragraph, and SQuAD 2.0's
unanswerable questions against their own paragraph (and its closest sentence).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from rag.config import eval_data_dir
from rag.errors import ConfigError
from rag.eval.run import Record as Paragraph
from rag.ingest.sentences import split_sentences
from rag.retrieve.lexical import content_terms

DEFAULT_SPLIT = Path("../shared/train/squad-v2-split.json")
CALIBRATION_ARTICLES = 3
MAX_WORDS = 120  # passages are cut to a window of this many words (keeps pairs under ~192 tokens)


@dataclass(frozen=True)
class Question:
    """One SQuAD question; `answers` is empty for an unanswerable one."""

    id: str
    question: str
    answers: tuple[str, ...]
    paragraph_id: str


@dataclass(frozen=True)
class Pair:
    """A training example: `kind` says which rule built it (for counts in the model card)."""

    question: str
    passage: str
    label: float
    kind: str
    answer: str = ""
    """For a positive: the gold answer as it occurs in `passage` (the span head's target); else empty."""


@dataclass(frozen=True)
class Split:
    """Article titles for training, for calibration (held back from training) and for evaluation."""

    train: tuple[str, ...]
    calibration: tuple[str, ...]
    eval: tuple[str, ...]


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found (set RAG_EVAL_DATA to the shared eval folder)")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_squad(data_dir: Path | None = None) -> tuple[dict[str, Paragraph], list[Question]]:
    """All SQuAD v2 paragraphs (by id) and questions from `<data_dir>/squad-v2`."""
    root = (data_dir or eval_data_dir()) / "squad-v2"
    paragraphs = {r["id"]: Paragraph(r["id"], r["title"], r["text"]) for r in _jsonl(root / "corpus.jsonl")}
    questions = [Question(r["id"], r["question"], tuple(a for a in r.get("answers", []) if a.strip()),
                          r.get("gold_context_doc_id") or (r.get("evidence_doc_ids") or [""])[0])
                 for r in _jsonl(root / "questions.jsonl")]
    return paragraphs, questions


def load_split(path: Path = DEFAULT_SPLIT, seed: int = 13, held_back: int = CALIBRATION_ARTICLES) -> Split:
    """The fixed train/eval split, with `held_back` seeded training articles set aside for calibration."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: split file not found (pass --split)")
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    train = sorted(raw["train_titles"])
    evals = tuple(sorted(raw["eval_titles"]))
    if set(train) & set(evals):
        raise ConfigError(f"{path}: train and eval titles overlap")
    calibration = sorted(random.Random(seed).sample(train, held_back))
    return Split(tuple(t for t in train if t not in calibration), tuple(calibration), evals)


def holds_answer(text: str, answers: Iterable[str]) -> bool:
    """True when any gold answer string occurs in `text` (case-insensitive)."""
    low = text.lower()
    return any(a.lower() in low for a in answers if a)


def answer_in(text: str, answers: Iterable[str]) -> str:
    """The first gold answer that occurs in `text`, spelled as `text` spells it ("" when none does)."""
    low = text.lower()
    for a in answers:
        at = low.find(a.lower()) if a else -1
        if at >= 0:
            return text[at:at + len(a)]
    return ""


def window(text: str, rng: random.Random, answers: Sequence[str] = (), max_words: int = MAX_WORDS) -> str:
    """`text` cut to at most `max_words` words; a window holding an answer when there is one."""
    words = text.split()
    if len(words) <= max_words:
        return text
    starts = list(range(len(words) - max_words + 1))
    if answers:
        good = [s for s in starts if holds_answer(" ".join(words[s:s + max_words]), answers)]
        starts = good or starts
    start = rng.choice(starts)
    return " ".join(words[start:start + max_words])


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph, as the ingest stage splits them."""
    return [text[a:b] for a, b in split_sentences(text)]


def _closest(question: str, candidates: Sequence[str]) -> str:
    terms = content_terms(question)
    return max(candidates, key=lambda s: (len(terms & content_terms(s)), -len(s)))


def _bm25_neighbours(paragraphs: Sequence[Paragraph], queries: Sequence[str], k: int) -> list[list[int]]:
    """Indices into `paragraphs` of the top-`k` BM25 hits for each query (stemmed English)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([p.text for p in paragraphs], stopwords="en", stemmer=stemmer,
                                   show_progress=False), show_progress=False)
    hits, _ = retriever.retrieve(bm25s.tokenize(list(queries), stopwords="en", stemmer=stemmer,
                                                show_progress=False),
                                 k=min(k, len(paragraphs)), show_progress=False, n_threads=1)
    return [list(map(int, row)) for row in hits]


def build_pairs(paragraphs: dict[str, Paragraph], questions: Sequence[Question], titles: Sequence[str],
                seed: int = 13, same_article: int = 1, bm25: int = 1, sentence_negatives: int = 1,
                use_bm25: bool = True) -> list[Pair]:
    """Seeded pairs from the questions of the articles in `titles` only (see the module docstring).

    The same inputs and seed give the same pairs in the same order.
    """
    allowed = set(titles)
    paras = [p for p in sorted(paragraphs.values(), key=lambda p: p.id) if p.title in allowed]
    by_title: dict[str, list[Paragraph]] = {}
    for p in paras:
        by_title.setdefault(p.title, []).append(p)
    qs = sorted((q for q in questions if q.paragraph_id in paragraphs
                 and paragraphs[q.paragraph_id].title in allowed), key=lambda q: q.id)
    neighbours = _bm25_neighbours(paras, [q.question for q in qs], 8) if use_bm25 and paras and qs else []
    rng = random.Random(seed)
    out: list[Pair] = []
    for n, q in enumerate(qs):
        own = paragraphs[q.paragraph_id]
        own_sents = sentences(own.text)
        if not q.answers:
            out.append(Pair(q.question, window(own.text, rng), 0.0, "unanswerable_paragraph"))
            if own_sents:
                out.append(Pair(q.question, _closest(q.question, own_sents), 0.0, "unanswerable_sentence"))
            continue
        passage = window(own.text, rng, q.answers)
        out.append(Pair(q.question, passage, 1.0, "positive_paragraph", answer_in(passage, q.answers)))
        others = [p for p in by_title[own.title] if p.id != own.id and not holds_answer(p.text, q.answers)]
        for p in rng.sample(others, min(same_article, len(others))):
            out.append(Pair(q.question, window(p.text, rng), 0.0, "same_article_paragraph"))
        if neighbours:
            near = [paras[i] for i in neighbours[n] if paras[i].id != own.id
                    and not holds_answer(paras[i].text, q.answers)]
            for p in near[:bm25]:
                out.append(Pair(q.question, window(p.text, rng), 0.0, "bm25_paragraph"))
        good = [s for s in own_sents if holds_answer(s, q.answers)]
        bad = [s for s in own_sents if not holds_answer(s, q.answers)]
        if good:
            out.append(Pair(q.question, good[0], 1.0, "positive_sentence", answer_in(good[0], q.answers)))
            for s in rng.sample(bad, min(sentence_negatives, len(bad))):
                out.append(Pair(q.question, s, 0.0, "negative_sentence"))
    return out


def sample_pairs(pairs: Sequence[Pair], limit: int, seed: int = 13,
                 quotas: dict[str, int] | None = None) -> list[Pair]:
    """A seeded, shuffled sample of at most `limit` pairs; with `quotas`, at most that many of each
    named kind (kinds not named are all kept), then cut to `limit`."""
    rng = random.Random(seed)
    if quotas:
        by_kind: dict[str, list[Pair]] = {}
        for p in pairs:
            by_kind.setdefault(p.kind, []).append(p)
        chosen = []
        for kind in sorted(by_kind):
            group = by_kind[kind]
            chosen.extend(rng.sample(group, min(len(group), quotas.get(kind, len(group)))))
    else:
        chosen = list(pairs)
    rng.shuffle(chosen)
    return chosen[:limit]


def kind_counts(pairs: Iterable[Pair]) -> dict[str, int]:
    """How many pairs each rule built, sorted by rule name."""
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    return dict(sorted(counts.items()))
