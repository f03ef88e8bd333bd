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
    asked_on_days: int = 7
    asked_on_boost: float = 1.0
    """A question dated D (Assistant.search/ask `as_of`) that names no date of its own boosts documents
    dated in the `asked_on_days` days up to D by `asked_on_boost`: at 1.0 the week's documents come
    first and older ones follow (a boost, so nothing is filtered out). Chosen on RealTime QA's
    January-February questions among 3-14 days and +0.05 to +1.0 (`bench/bench_news_dates.py`: gold
    R@3 0.537 without, 0.756 at 7 days +0.7/+1.0; 3 days +1.0 scored 0.787 but reads a quiz's own day,
    not the week); reported on March (`rag eval qa --data ../shared/eval/realtimeqa --month 2025-03`)."""
    evidence_in_dates: float = 0.3
    """Added to the evidence score of a sentence whose document falls in the dates the question asks
    about (Hit.in_dates), so the answer quotes that week's news rather than a years-old article that
    words it closer. Chosen on RealTime QA January-February, answer holds the gold 0.388 at 0, 0.424 at
    0.15 and 0.3, 0.418 at 0.5 (March, held out: 0.362, 0.400, 0.425, 0.425):
    `bench/bench_news_answers.py --setting evidence_in_dates --values 0,0.15,0.3,0.5`."""

    # -- embedding on the CPU (rag/embed/backends.py, rag/embed/cores.py) ---------------------------
    embed_tokens_per_batch: int = 2048
    """Padded tokens (rows x longest row) per OpenVINO inference call of length-sorted texts; smaller
    batches stay in cache: int8, 2,348 texts, idle 2 cores: 1024 18.4 s, 2048 18.3 s, 4096 18.8 s,
    8192 19.8 s (512: 19.7 s); `bench/bench_ingest.py --docs 1000 --sweep`."""
    embed_busy_share: float = 0.5
    """Share of a core other processes must use, while the embedder loads, for it to count as taken;
    hand-set, the rule's effect measured by `bench/bench_ingest.py --docs 1000 --sweep` (busy rows)."""
    embed_streams_on_busy: int = 1
    """Single-threaded OpenVINO streams run beyond the free cores (at most one per core): a stream on
    a busy core still adds its share, as batches go to whichever stream is idle. One core of two
    busy: 2 streams x 1 thread 24.5 s, 1 x 1 35.9 s, 1 x 2 46.0 s (idle: 18.5 / 36.3 / 19.0 s);
    `bench/bench_ingest.py --docs 1000 --sweep`."""

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

    quote_by_judge: bool = False
    """Let the judge pick the quoted sentence (among the sentences of the best evidence's chunk) instead of
    cosine + overlap within the best evidence span. Off: with the second judge, SQuAD v2 eval articles,
    300 questions, the quote holds the gold answer 0.721 with the judge's pick vs 0.761 with cosine on the
    same model output (`bench/bench_qa.py --split eval --limit 300`; the first judge gave 0.755 vs 0.748)."""
    quote_by_span: bool = False
    """With the judge, quote the sentence holding the answer span it points at (its span head) rather
    than the sentence its relevance head scores best. Off: on the eval articles' gold paragraphs the
    span's sentence holds the answer 0.76 of the time, the best-scored sentence 0.88
    (`bench/bench_judge.py --questions 100 --candidates 20`, quote pick rows)."""

    # -- refusal gate (rag/answer/gate.py) -----------------------------------------------------------
    insufficient_score: float = 0.65
    """Refuse before generation when the best evidence score (cosine + lexical_weight * overlap) is
    below. 0.65 with `missing_keys_to_refuse` 2, chosen among 0.60-0.66 and 1, 2 or no missing terms on
    the SQuAD articles held back from the judge's training and RealTime QA January-February
    (`bench/bench_gate_rules.py --workdir DIR`): there it answers 0.904 of answerable and refuses 0.241
    of unanswerable (0.867 / 0.208 with one missing term and 0.60) and answers 0.753 of the news questions
    (0.641); 0.66 refuses 0.269 but answers 0.718 of the news. Reported on the eval articles (0.956 /
    0.188, before 0.959 / 0.191) and RealTime QA March (0.713 answered, before 0.625)."""
    judge_gate: bool = False
    """With the judge on, let its answerability replace the score rule above: refuse when its best
    probability over the evidence's chunks is below the threshold in its card (calibrated on held-back
    training articles by `bench/bench_qa.py --gate --split calibration --limit 400 --calibrate`). Off:
    at that threshold it answers 0.956 of the eval articles' answerable questions and refuses 0.155 of
    the unanswerable, where the score rule gives 0.959 / 0.191 (`bench/bench_qa.py --gate --split eval
    --limit 600`); its AUROC (0.66) is MiniLM cosine's."""
    refuse_on_missing_key: bool = True
    """Refuse before generation when `missing_keys_to_refuse` names or numbers the question asks with
    (rag.answer.gate.asked_keys: not the words describing the asked-for thing, "which Dutch artist") are in
    none of the evidence's chunks or titles nor anywhere in their documents (a name's found surname standing
    for it). Those refinements of "every capitalised word, in the chunks", one after the other: RealTime QA
    January-February answered 0.888 -> 0.912 -> 0.935 -> 0.941, March 0.912 -> 0.912 -> 0.925 -> 0.925,
    SQuAD calibration and eval articles unchanged (0.904 / 0.241, 0.959 / 0.181) at `missing_keys_to_refuse`
    2 and `insufficient_score` 0.65 (`bench/bench_gate_rules.py`)."""
    missing_keys_to_refuse: int = 2
    """How many of the question's names/numbers must be missing: one was too strict for news questions,
    whose context words ("British", "US", "aged 63") a short report often leaves out (RealTime QA
    January-February answered 0.641 with 1, 0.753 with 2); a person's unknown full name is still two.
    Set with insufficient_score above; dropping the rule measured no worse on these sets but would let a
    question about an unknown person through on a good-scoring sentence."""

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
    new_terms: int = 1
    """Supported model text with fewer content terms than this that the question lacks (it restates
    the question: "The charity Prince Harry stood down from this week.") gets the best evidence quoted.
    Hand-set (a restatement adds no term); measured: SQuAD v2 eval articles holds gold 0.705 -> 0.719
    (`bench/bench_qa.py --split eval --limit 300`), RealTime QA January-February 0.388 with it
    (`bench/bench_news_answers.py`; README "Quality and speed")."""
    echo_share: float = 0.7
    """A question sentence in the model's answer with this share of its terms in the asked question
    is an echo of it and dropped; hand-set (echoes seen in RealTime QA answers)."""
    refuse_on_not_found: bool = True
    """The model's NOT FOUND (or a refusal phrase) with no supported sentence refuses; off, the evidence
    that passed the gate is quoted instead. Kept on: overruling it changed nothing on SQuAD v2's eval
    articles (`bench/bench_qa.py --split eval`, row `quote, NOT FOUND overruled`) and one question of
    170 on RealTime QA January-February (`bench/bench_news_answers.py --setting refuse_on_not_found`);
    a stronger model's NOT FOUND deserves the trust."""
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
