"""BM25 as sparse vectors, computed in the client so that a test and a Qdrant server tokenise alike.

A chunk's vector holds, for each term of its keyword text (title + heading + text, the same
bm25s tokeniser, English stop words and stemmer as the local BM25 index), the BM25 term-frequency
part tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_TERMS)). A query's vector holds each term's
count. Qdrant's IDF modifier multiplies each matched term by ln(1 + (N - n + 0.5) / (n + 0.5)) over
the whole collection, so a sparse dot product is Lucene's BM25, as bm25s scores it locally.
Terms are hashed (CRC-32) into indices: no vocabulary to store or to keep in step across workers.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any, Sequence

K1 = 1.5  # bm25s's default (Lucene's), so both stores score a term alike
B = 0.75
AVG_TERMS = 100.0
"""Average terms per chunk after stop words, fixed rather than measured: a point written earlier
must not need rewriting when the collection grows. SciFact's 12,366 chunks average 101 terms, the
project's 200-token chunks 90-110 (bench/bench_qdrant.py prints the corpus's own figure)."""

_STEMMER: Any = None


def terms(texts: Sequence[str]) -> list[list[str]]:
    """Each text's BM25 terms, as the local keyword index reads them."""
    import bm25s
    import Stemmer

    global _STEMMER
    if _STEMMER is None:
        _STEMMER = Stemmer.Stemmer("english")
    if not texts:
        return []
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False)


def term_index(term: str) -> int:
    """The sparse dimension of a term: its CRC-32 (an unsigned 32-bit index, as Qdrant wants)."""
    return zlib.crc32(term.encode("utf-8"))


def _merged(counts: Counter) -> dict[int, float]:
    """term counts -> index counts (a CRC collision, rare, sums the two terms)."""
    out: dict[int, float] = {}
    for term, tf in counts.items():
        i = term_index(term)
        out[i] = out.get(i, 0.0) + float(tf)
    return out


def document_vectors(texts: Sequence[str]) -> list[tuple[list[int], list[float]]]:
    """(indices, values) of each chunk text: BM25's saturated, length-normalised term frequency."""
    vectors = []
    for words in terms(texts):
        norm = K1 * (1.0 - B + B * len(words) / AVG_TERMS)
        tf = _merged(Counter(words))
        idx = sorted(tf)
        vectors.append((idx, [tf[i] * (K1 + 1.0) / (tf[i] + norm) for i in idx]))
    return vectors


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: each term's count (no length normalisation, as in BM25)."""
    counts = _merged(Counter(terms([text])[0]))
    idx = sorted(counts)
    return idx, [counts[i] for i in idx]
