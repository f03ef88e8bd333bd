"""Pure evaluation metrics: ranking (nDCG, recall, MRR), SQuAD answer matching, ROUGE, lead-3.

No model and no index here, so every function can be checked against hand-computed values.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from typing import Iterable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_POSSESSIVE = re.compile(r"(?<=\w)'s\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: sum of gain_i / log2(i + 1), ranks from 1."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with linear gains (the trec_eval/BEIR definition); 0 when nothing is relevant."""
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    best = dcg(ideal)
    if best <= 0:
        return 0.0
    return dcg([relevant.get(doc, 0.0) for doc in ranking[:k]]) / best


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    wanted = {d for d, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranking[:k])) / len(wanted)


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """1 / rank of the first relevant document within the top k, else 0."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0.0) > 0:
            return 1.0 / rank
    return 0.0


def doc_ranking(chunk_docs: Iterable[str]) -> list[str]:
    """Documents in order of their best chunk: `chunk_docs` is the doc of each hit, best hit first."""
    return list(dict.fromkeys(chunk_docs))


def ranking_metrics(ranking: Sequence[str], relevant: Mapping[str, float]) -> dict[str, float]:
    """The retrieval figures reported by `rag eval retrieval` for one query."""
    return {
        "ndcg@10": ndcg_at_k(ranking, relevant, 10),
        "recall@5": recall_at_k(ranking, relevant, 5),
        "recall@100": recall_at_k(ranking, relevant, 100),
        "mrr@10": mrr_at_k(ranking, relevant, 10),
    }


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and the articles a/an/the, collapse spaces;
    also typographic punctuation (curly quotes, dashes: news text has them), a possessive 's, so that
    "Adrien Brody's speech" holds the answer "Adrien Brody", and accents ("Doncic" holds "Dončić")."""
    text = _POSSESSIVE.sub("", text.lower().replace("’", "'").replace("‘", "'")).translate(_PUNCT)
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                       if not unicodedata.category(ch).startswith(("P", "M")))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_gold(text: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold answer occurs in the normalised text, on word boundaries."""
    hay = f" {normalize_answer(text)} "
    for gold in golds:
        needle = normalize_answer(gold)
        if needle and f" {needle} " in hay:
            return True
    return False


def split_sentences(text: str) -> list[str]:
    """Sentences of a prose text (a light rule: end mark, space, then a capital or digit)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\S)", text):
        para = " ".join(para.split())
        if para:
            out += [s.strip() for s in _SENTENCE_END.split(para) if s.strip()]
    return out


def lead_n(documents: Sequence[str], n: int = 3) -> str:
    """The first n sentences of the documents read in order (the lead-3 baseline)."""
    sentences: list[str] = []
    for doc in documents:
        sentences += split_sentences(doc)
        if len(sentences) >= n:
            break
    return " ".join(sentences[:n])


def rouge_f(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures (rouge-score, Porter stemming).

    ROUGE-L is the LCS over the whole text; ROUGE-Lsum the summary-level LCS over sentences.
    """
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    scores = scorer.score("\n".join(split_sentences(reference)), "\n".join(split_sentences(prediction)))
    return {name: scores[name].fmeasure for name in ("rouge1", "rouge2", "rougeL", "rougeLsum")}


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or None for no values."""
    items = list(values)
    return sum(items) / len(items) if items else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation, or None for no values."""
    if not values:
        return None
    items = sorted(values)
    pos = (len(items) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(items) - 1)
    return items[lo] + (items[hi] - items[lo]) * (pos - lo)
