"""Every tuned threshold of the pipeline, in one typed record.

Each field names the bench command that set it, or says that it was set by hand and which bench
command measures its end-to-end effect. Settings (rag/config.py) holds what users configure;
this record holds what the project tuned. Stages read the shared `THRESHOLDS` instance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Tuned constants of retrieval, evidence, the refusal gate, verification, summaries and briefs."""

    # -- retrieval (rag/retrieve/hybrid.py) ---------------------------------------------------------
    candidates: int = 100
    """Hits taken from each retriever before fusion; `bench/bench_retrieval.py` (sweep 50-400)."""
    near_duplicate: float = 0.95
    """Cosine above which a lower-ranked hit is a copy of a higher one; hand-set (syndicated copies)."""
    date_boost: float = 0.15
    """Added to a fused score (in [0, 1]) when the hit's document falls in the dates a question names
    ("in March 2025", "last week"); hand-set, measured by `rag eval qa --data ../shared/eval/realtimeqa`."""
    recency_boost: float = 0.1
    """Most added for the newest document on "latest"/"most recent" questions; hand-set, same command."""

    # -- evidence (rag/answer/evidence.py) ----------------------------------------------------------
    max_evidence: int = 3
    """Sentence-level sources shown to the model (a 135M model needs a small, precise context);
    hand-set, measured end to end by `bench/bench_qa.py --limit 300`."""
    max_candidate_sentences: int = 120
    """Most sentences scored per question (bounds the embedding cost of one ask); hand-set."""
    lexical_weight: float = 0.3
    """Weight of question-term overlap added to cosine when ranking sentences; `bench/bench_qa.py --gate`."""
    label_asked: float = 0.3
    """Added to a label line's score ("Chair: Rosa Lindqvist MP") when the question asks for what it labels
    ("Who chaired ...?", rag.answer.labels): such a line states the answer in two words, which cosine
    under-rates; hand-set on tests/answer/test_labels.py, checked by `bench/bench_qa.py --split eval
    --limit 100` (README, before/after)."""
    speaker_said: float = 0.3
    """Added to a sentence in which the person of a "What did X say ...?" question speaks (X or X's surname
    beside a reporting verb or a quote, rag.answer.speakers); hand-set on tests/answer/test_speakers.py."""
    min_evidence_chars: int = 60
    """A selected sentence shorter than this is widened with a neighbour; hand-set."""

    # -- refusal gate (rag/answer/gate.py) -----------------------------------------------------------
    insufficient_score: float = 0.60
    """Refuse before generation when the best evidence score (cosine + lexical_weight * overlap) is
    below; `bench/bench_qa.py --gate --limit 2000` (SQuAD v2). It keeps its place over the trained
    judge's answerability: on the held-back training articles the judge, alone or added to this
    rule, gives no better answered/refused trade-off (`bench/bench_qa.py --gate --split calibration`)."""
    refuse_on_missing_key: bool = True
    """Refuse before generation when a name or number of the question is in none of the evidence's
    chunks or titles; `bench/bench_qa.py --gate`."""

    # -- the support rule (rag/answer/support.py: answers, summaries and briefs) --------------------
    lex_strong: float = 0.85
    """Share of a claim's content terms in a span that supports it on words alone; hand-set,
    measured by `bench/bench_qa.py --limit 300` (citation precision) and `bench/bench_summary.py`
    (supported share)."""
    lex_support: float = 0.6
    """Lower share that supports when cosine >= sim_support too; hand-set, same benches."""
    sim_support: float = 0.45
    """Cosine(claim, span) needed beside lex_support; hand-set, same benches."""
    uncovered_per: int = 5
    """One content term in this many may be missing from a supporting span; hand-set, same benches."""
    figure_window: int = 6
    """Words before a number of a span that may name what it measures ("expects the levy to raise
    340" names it four words back); hand-set on tests/answer/test_support.py, checked by
    `bench/bench_qa.py --split eval --limit 100` (quote precision before/after in the README)."""

    # -- answer verification (rag/answer/verify.py) --------------------------------------------------
    hint_bonus: float = 0.1
    """Score added to spans of the sources the model cited, to break near-ties; hand-set."""
    thin_terms: int = 5
    """Supported model text with fewer content terms than this gets the best evidence quoted;
    `bench/bench_qa.py --limit 300` (answer holds gold)."""
    quote_when_unsupported: bool = True
    """With no supported model sentence (and no NOT FOUND), quote the best evidence;
    `bench/bench_qa.py --limit 300` (policy rows `quote` vs `strict`)."""
    quote_min_score: float = 0.0
    """...when the best evidence score is at least this, else refuse; same bench (`quote if score>=X`)."""

    # -- summaries (rag/summary/extractive.py, mapreduce.py) ----------------------------------------
    mmr_lambda: float = 0.7
    """Relevance/diversity balance when picking notes; hand-set, measured by `bench/bench_summary.py`."""
    doc_bonus: float = 0.15
    """Salience bonus for a document's first sentences; hand-set, `bench/bench_summary.py`."""
    duplicate_cosine: float = 0.92
    """Cosine above which two source sentences count as one; hand-set."""
    fallback_cosine: float = 0.5
    """Below it an unsupported summary sentence is replaced by the best unused note; hand-set."""

    # -- briefs (rag/summary/brief.py) ---------------------------------------------------------------
    same_topic_cosine: float = 0.6
    """Two sentences are about the same thing above this cosine (tensions); hand-set."""
    same_topic_overlap: float = 0.3
    """...or when they share this share of the smaller sentence's topic words; hand-set."""
    stance_cosine: float = 0.25
    """Least similarity for two opposite stances to count as one tension; hand-set."""


THRESHOLDS = Thresholds()
