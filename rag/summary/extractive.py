"""The extractive layer of summaries and briefs: sentences, salience, MMR selection, support checks.

The read step: the chunks of each document are merged where they overlap (so no sentence is
counted twice), split into sentences (rag.ingest.sentences.split_sentences), and every sentence is
embedded and scored for salience: centrality to its document and to the whole selection, lead
position, numbers and names, length. `select` picks diverse salient sentences (MMR, new
documents favoured). `support` checks a written sentence against the source sentences clause by
clause with the one support rule of rag.answer.support (the rule answers use too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from rag.answer.support import Claim, Source, clauses, supports
from rag.embed.embedder import Embedder
from rag.ingest.sentences import split_sentences
from rag.retrieve.lexical import STOPWORDS, normalize_term, overlap, words
from rag.store.writer import Progress
from rag.thresholds import THRESHOLDS
from rag.types import Chunk, Coverage, DocumentInfo

MIN_WORDS = 5
READ_BATCH = 128  # sentences embedded between two progress reports
READ_STEP = "sentences read"  # what the read step reports to a progress callback
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MARKER = re.compile(r"(?:#{1,6}|[-*+\u2022\u2013]|\d{1,3}[.)])\s+")


def numbers(text: str) -> set[str]:
    """The numbers written in `text`, thousands separators removed."""
    out = set()
    for m in _NUMBER.findall(text):
        m = re.sub(r",(?=\d{3}\b)", "", m).rstrip(".,")
        out.add(m)
    return out


def names(text: str) -> set[str]:
    """Normalised capitalised words that look like names (the first word only if not a common word)."""
    out = set()
    for i, w in enumerate(words(text)):
        if w[:1].isupper() and w.lower() not in STOPWORDS and not (i == 0 and w.lower() in _COMMON_STARTS):
            out.add(normalize_term(w))
    return out


_COMMON_STARTS = frozenset("first second finally additionally furthermore moreover officials experts critics".split())


@dataclass(frozen=True)
class Unit:
    """A sentence of the selection: offsets into Document.text and the chunk that holds it."""

    index: int
    doc_id: str
    chunk: Chunk
    start: int
    end: int
    text: str
    position: int  # sentence number within its document
    eligible: bool  # a full sentence worth quoting (not a heading or fragment)


@dataclass
class Reading:
    """Everything the read step produced for one selection of documents."""

    infos: dict[str, DocumentInfo]
    doc_order: list[str]
    doc_chunks: dict[str, list[Chunk]]
    units: list[Unit]
    vectors: np.ndarray
    salience: np.ndarray
    coverage: Coverage
    chunk_units: dict[str, list[int]] = field(default_factory=dict)
    _sources: dict[int, Source] = field(default_factory=dict)
    _ranks: dict[str, int] = field(default_factory=dict)

    def source(self, i: int) -> Source:
        """Unit i read as a source span for the support rule (cached)."""
        if i not in self._sources:
            self._sources[i] = Source.of(self.units[i].text, title=self.title(i))
        return self._sources[i]

    def date(self, i: int) -> str | None:
        """ISO date of unit i's document, when known."""
        return self.infos[self.units[i].doc_id].date

    def title(self, i: int) -> str:
        """Title of unit i's document."""
        return self.infos[self.units[i].doc_id].title

    def doc_rank(self, doc_id: str) -> int:
        """Position of a document in the selection."""
        if len(self._ranks) != len(self.doc_order):
            self._ranks = {d: n for n, d in enumerate(self.doc_order)}
        return self._ranks[doc_id]


def _segments(chunks: Sequence[Chunk]) -> list[tuple[int, str, list[Chunk]]]:
    """Overlapping chunks of one document merged into (start, text, chunks) runs of its text."""
    out: list[tuple[int, str, list[Chunk]]] = []
    for chunk in sorted(chunks, key=lambda c: (c.start, c.ordinal)):
        end = chunk.start + len(chunk.text)
        if out and chunk.start <= out[-1][0] + len(out[-1][1]):
            start, text, members = out[-1]
            seg_end = start + len(text)
            if end > seg_end:
                text += chunk.text[seg_end - chunk.start:]
            members.append(chunk)
            out[-1] = (start, text, members)
        else:
            out.append((chunk.start, chunk.text, [chunk]))
    return out


def _owner(members: Sequence[Chunk], start: int, end: int) -> Chunk:
    for chunk in members:
        if chunk.start <= start and end <= chunk.start + len(chunk.text):
            return chunk
    return next((c for c in members if c.start <= start < c.start + len(c.text)), members[0])


_FILLER = re.compile(r"\{[a-z]+\}|\b(?:u+m+|u+h+|erm|hmm+|mm+|ah)\b", re.I)
_SPEAKER_TURN = re.compile(r"(?:^|(?<=\s))[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?\s?:\s")


def _is_disfluent(text: str, n_words: int) -> bool:
    """Transcript speech that reads badly when quoted: fillers and markup ("um", "{disfmarker}"),
    or several speakers' turns run together."""
    fillers = len(_FILLER.findall(text))
    return fillers >= 3 or fillers > 0.05 * n_words or len(_SPEAKER_TURN.findall(text)) >= 2


def _is_eligible(text: str) -> bool:
    ws = words(text)
    if len(ws) < MIN_WORDS or _is_disfluent(text, len(ws)):
        return False
    letters = [w for w in ws if not w.isdigit()]
    if letters and sum(w.isupper() for w in letters) > 0.6 * len(letters):
        return False
    lines = text.splitlines()
    if any(len(words(line)) <= 6 and line.rstrip()[-1:] not in ".!?,;" for line in lines[:-1]):
        return False  # a heading, title block or front matter runs into it
    return text.rstrip()[-1:] in ".!?\"'\u201d\u2019" or len(ws) >= 30


_OPENING_ANAPHOR = re.compile(
    r"^(?:[\"'\u201c\u2018(]\s*)?(?:this|that|these|those|its|he|she|his|her|they|their|them|such|"
    r"it(?!\s+(?:is|was|remains|seems|appears|will\s+be|would\s+be)\s+(?:\w+\s+){0,2}?"
    r"(?:that|whether|to|if|how|when|why|who|what)\b)|"
    r"(?:the|this|that|these|those)\s+(?:proposal|plan|move|decision|measure|idea|scheme|bill|change|policy|step|"
    r"announcement|report|approach|option|rule|target|figure|levy|project))\b", re.I)
_BARE_DEMONSTRATIVE = re.compile(
    r"^\W*(?:\S+\s+){0,6}?(?:opposed|supported|rejected|welcomed|criticised|criticized|backed|endorsed|"
    r"questioned|disputed|described|called|defended|dismissed|echoed|doubted)\s+(?:this|that|these|those|it|them)\b"
    r"(?!\s+(?:proposal|plan|move|decision|measure|idea|scheme|bill|change|policy|step|report|levy|project)\b)", re.I)


def leans_on_previous(text: str) -> bool:
    """True when a sentence reads only with the one before: it opens with an anaphor ("This", "He",
    "The proposal") or its first words take a bare demonstrative ("Dr Okafor opposed this, warning ...")."""
    return bool(_OPENING_ANAPHOR.match(text) or _BARE_DEMONSTRATIVE.match(text))


def with_antecedent(reading: "Reading", i: int) -> tuple[int, ...]:
    """Unit i, preceded by the sentence before it in its document when it leans on that one
    (`leans_on_previous`), so a quoted sentence reads on its own."""
    u = reading.units[i]
    if i > 0 and leans_on_previous(u.text):
        prev = reading.units[i - 1]
        if prev.doc_id == u.doc_id and prev.position == u.position - 1 and prev.text.strip():
            return (i - 1, i)
    return (i,)


def flat(text: str) -> str:
    """`text` with every run of whitespace (hard line wraps included) turned into one space."""
    return " ".join(text.split())


def read_documents(documents: Sequence[DocumentInfo], chunks: Sequence[Chunk], embedder: Embedder,
                   progress: Progress | None = None) -> Reading:
    """The read step: every chunk split into sentences, embedded and scored (see module doc).

    `progress` gets (sentences embedded, sentences in all, READ_STEP) from 0 up to the total."""
    infos = {d.doc_id: d for d in documents}
    order = list(dict.fromkeys([d.doc_id for d in documents] + [c.doc_id for c in chunks]))
    for doc_id in order:
        infos.setdefault(doc_id, DocumentInfo(doc_id, "", doc_id, None, "", 0, 0))
    unique = list({c.chunk_id: c for c in chunks}.values())
    doc_chunks: dict[str, list[Chunk]] = {d: [] for d in order}
    for chunk in unique:
        doc_chunks[chunk.doc_id].append(chunk)
    units: list[Unit] = []
    for doc_id in order:
        doc_chunks[doc_id].sort(key=lambda c: (c.start, c.ordinal))
        position = 0
        for seg_start, seg_text, members in _segments(doc_chunks[doc_id]):
            for a, b in split_sentences(seg_text):
                m = MARKER.match(seg_text, a, b)
                if m and m.end() < b:
                    a = m.end()
                start, end = seg_start + a, seg_start + b
                text = seg_text[a:b]
                units.append(Unit(len(units), doc_id, _owner(members, start, end), start, end, text, position,
                                  _is_eligible(text)))
                position += 1
    if units and not any(u.eligible for u in units):
        units = [Unit(u.index, u.doc_id, u.chunk, u.start, u.end, u.text, u.position, True) for u in units]
    vectors = _embed([u.text for u in units], embedder, progress)
    chunk_units: dict[str, list[int]] = {c.chunk_id: [] for c in unique}
    for u in units:
        chunk_units[u.chunk.chunk_id].append(u.index)
    coverage = Coverage(documents=len(order), chunks_read=len(unique), chunks_total=len(unique))
    reading = Reading(infos, order, doc_chunks, units, vectors, np.zeros(len(units), np.float32), coverage, chunk_units)
    reading.salience = _salience(reading)
    return reading


def _embed(texts: Sequence[str], embedder: Embedder, progress: Progress | None) -> np.ndarray:
    """Unit vectors of `texts`, READ_BATCH at a time so that progress can be shown."""
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    parts = []
    for lo in range(0, len(texts), READ_BATCH):
        if progress is not None:
            progress(lo, len(texts), READ_STEP)
        parts.append(np.asarray(embedder.embed(texts[lo:lo + READ_BATCH]), dtype=np.float32))
    if progress is not None:
        progress(len(texts), len(texts), READ_STEP)
    return np.concatenate(parts)


def _salience(reading: Reading) -> np.ndarray:
    units, vectors = reading.units, reading.vectors
    if not units:
        return np.zeros(0, np.float32)
    eligible = np.array([u.eligible for u in units])
    doc_ids = np.array([u.doc_id for u in units])
    centroids = {}
    for doc_id in reading.doc_order:
        mask = (doc_ids == doc_id) & eligible
        if mask.any():
            c = vectors[mask].mean(axis=0)
            centroids[doc_id] = c / (np.linalg.norm(c) or 1.0)
    corpus = np.mean(list(centroids.values()), axis=0)
    corpus = corpus / (np.linalg.norm(corpus) or 1.0)
    scores = np.zeros(len(units), np.float32)
    rank: dict[str, int] = {}
    for u in units:
        if not u.eligible:
            continue
        r = rank.get(u.doc_id, 0)
        rank[u.doc_id] = r + 1
        n_words = len(words(u.text))
        length = 1.0 if 8 <= n_words <= 40 else (n_words / 8 if n_words < 8 else 40 / n_words)
        info = min(1.0, 0.2 * len(numbers(u.text)) + 0.1 * len(names(u.text)))
        central = float(vectors[u.index] @ centroids[u.doc_id])
        overall = float(vectors[u.index] @ corpus)
        scores[u.index] = (0.45 * central + 0.25 * overall + 0.2 / np.sqrt(1 + r) + 0.1 * info) * length
    return scores


class TokenCounter:
    """Counts tokens of units with the generator's tokenizer, once each."""

    def __init__(self, reading: Reading, count: Callable[[str], int]) -> None:
        self.reading, self.count, self._cache = reading, count, {}

    def __call__(self, i: int) -> int:
        if i not in self._cache:
            self._cache[i] = max(1, self.count(self.reading.units[i].text))
        return self._cache[i]

    def total(self, items: Sequence[int]) -> int:
        """Tokens of several units."""
        return sum(self(i) for i in items)


def select(reading: Reading, candidates: Sequence[int], *, budget: int | None = None, k: int | None = None,
           tokens: TokenCounter | None = None, already: Sequence[int] = ()) -> list[int]:
    """Up to k units (or as many as fit `budget` tokens) by MMR over salience, new documents favoured."""
    taken = set(already)
    cands = [i for i in candidates if i not in taken]
    if not cands or (k is not None and k <= 0):
        return []
    sal = reading.salience[cands].astype(np.float64)
    span = sal.max() - sal.min()
    sal = (sal - sal.min()) / span if span > 0 else np.ones_like(sal)
    vecs = reading.vectors[cands]
    max_sim = np.zeros(len(cands))
    if already:
        max_sim = (vecs @ reading.vectors[list(already)].T).max(axis=1)
    docs = [reading.units[i].doc_id for i in cands]
    doc_index = {d: n for n, d in enumerate(dict.fromkeys(docs))}
    doc_of = np.array([doc_index[d] for d in docs])
    unseen = np.ones(len(doc_index), bool)
    for i in already:
        if reading.units[i].doc_id in doc_index:
            unseen[doc_index[reading.units[i].doc_id]] = False
    open_ = np.ones(len(cands), bool)
    chosen: list[int] = []
    used = 0
    while open_.any() and (budget is None or used < budget):
        mmr = THRESHOLDS.mmr_lambda
        score = mmr * sal - (1 - mmr) * max_sim + THRESHOLDS.doc_bonus * unseen[doc_of]
        score[~open_] = -np.inf
        best = int(np.argmax(score))
        open_[best] = False
        if max_sim[best] >= THRESHOLDS.duplicate_cosine:
            continue
        cost = tokens(cands[best]) if (tokens is not None and budget is not None) else 0
        if budget is not None and chosen and used + cost > budget:
            continue
        chosen.append(cands[best])
        used += cost
        unseen[doc_of[best]] = False
        max_sim = np.maximum(max_sim, vecs @ vecs[best])
        if k is not None and len(chosen) >= k:
            break
    return chosen


def support(reading: Reading, text: str, embedder: Embedder, pool: Sequence[int] | None = None) -> tuple[int, ...] | None:
    """Units that together support every clause of `text` (rag.answer.support's rule, one unit per
    clause), or None when some clause lacks support."""
    if not reading.units:
        return None
    pool = list(range(len(reading.units))) if pool is None else list(pool)
    parts = clauses(text)
    vecs = np.asarray(embedder.embed(parts), dtype=np.float32)
    found: list[int] = []
    for part, vec in zip(parts, vecs):
        claim = Claim.of(part)
        if not claim.terms:
            continue
        cos = reading.vectors[pool] @ vec
        want = set(claim.terms)
        lexical = np.array([overlap(want, set(reading.source(i).terms)) for i in pool])
        order = np.argsort(-(lexical + 0.5 * cos))[:12]
        hit = next((pool[j] for j in order if supports(claim, reading.source(pool[j]), float(cos[j]))), None)
        if hit is None:
            return None
        found.append(hit)
    return tuple(dict.fromkeys(found))
