"""Map-reduce summaries over every chunk, each sentence cited to a verified quote.

What `summarize` does, and what "read" means in its Coverage:

1. Read (rag/summary/extractive.py). The chunks of each document are merged where they overlap (so no
   sentence is counted twice), split into sentences, and every sentence is embedded and scored
   for salience. A chunk counts as *read* when all of its text went through this step; every
   chunk given is read, so `chunks_read == chunks_total`: the selection is never a top-k.
2. Map. Consecutive chunks of one document are packed into groups that fit the model's window;
   each group yields short notes: its most salient sentences, chosen with MMR for diversity.
3. Reduce. While the notes exceed the final prompt budget, consecutive note groups are packed
   to the window again and reduced, level after level, until one set fits.
4. Final. The model condenses the final notes into a few sentences (its tokens stream through
   `on_token`). Every sentence it writes is checked against the source sentences, clause by
   clause (content words, numbers, names, negation, embedding similarity). A supported sentence
   cites the source sentences it rests on; an unsupported one is replaced by the closest unused
   note, quoted verbatim; if no note is left it stays, with `supported=False` and no citation.
   Missing sentences are topped up from the notes, so even a weak model yields a useful, fully
   cited summary.

The brief (`make_brief`) lives in rag/summary/brief.py and reuses the same reading and checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from rag.answer.citebook import CitationBook
from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.generate.generator import Generator
from rag.ingest.sentences import split_sentences
from rag.retrieve.lexical import content_words
from rag.store.writer import Progress
from rag.summary.extractive import (
    MARKER,
    Reading,
    TokenCounter,
    flat,
    read_documents,
    select,
    support,
    with_antecedent,
)
from rag.thresholds import THRESHOLDS
from rag.types import AnswerSentence, Chunk, Coverage, DocumentInfo, Message, VerifiedAnswer

FINAL_NOTES_TOKENS = 480  # most note tokens the final prompt shows the model (SmolLM2 reads ~250/s)
PROMPT_OVERHEAD_TOKENS = 96
MAP_NOTE_RATIO = 0.25
REDUCE_NOTE_RATIO = 0.5
NO_TEXT = "The selected documents hold no text to summarise."
WRITE_STEP = "tokens written"  # what the final step reports to a progress callback ...
PROMPT_STEP = "tokens written (the model reads the notes)"  # ... and before its first token

SUMMARY_SYSTEM = (
    "You write short, accurate summaries. Use only facts stated in the notes. "
    "Keep names, numbers and dates exactly as written."
)

_META = re.compile(r"^(?:here (?:is|are)\b[^:]*:|in summary,?|to summari[sz]e,?|summary:)\s*", re.I)


@dataclass(frozen=True)
class NotesPlan:
    """The final notes (unit indices, in reading order, best first in `ranked`) and the hierarchy."""

    notes: tuple[int, ...]
    ranked: tuple[int, ...]
    levels: tuple[int, ...]  # groups at each level: the map level first, then each reduce level


def _pack(groups: Sequence[list[int]], size: Callable[[list[int]], int], limit: int) -> list[list[int]]:
    packed: list[list[int]] = []
    current: list[int] = []
    for g in groups:
        if current and size(current) + size(g) > limit:
            packed.append(current)
            current = []
        current = current + g
    if current:
        packed.append(current)
    return packed


def plan_notes(reading: Reading, tokens: TokenCounter, window_tokens: int, final_tokens: int) -> NotesPlan:
    """Map groups of consecutive chunks to notes, then reduce the notes level by level until they fit."""
    limit = max(8, final_tokens // 3)
    eligible = {u.index for u in reading.units if u.eligible and tokens(u.index) <= limit}
    chunk_groups: list[list[int]] = []
    for doc_id in reading.doc_order:
        per_chunk = [[i for i in reading.chunk_units[c.chunk_id]] for c in reading.doc_chunks[doc_id]]
        chunk_groups.extend(_pack(per_chunk, tokens.total, window_tokens))
    levels = [len(chunk_groups)]
    notes = []
    share = final_tokens // max(1, len(chunk_groups))
    for group in chunk_groups:
        budget = max(share, int(MAP_NOTE_RATIO * tokens.total(group)))
        picked = select(reading, [i for i in group if i in eligible], budget=budget, tokens=tokens)
        if picked:
            notes.append(picked)
    while notes and tokens.total([i for g in notes for i in g]) > final_tokens:
        before = tokens.total([i for g in notes for i in g])
        if len(notes) > 1:
            merged = _pack(notes, tokens.total, window_tokens)
            notes = [select(reading, g, budget=max(1, int(REDUCE_NOTE_RATIO * tokens.total(g))), tokens=tokens)
                     for g in merged]
            levels.append(len(merged))
        if len(notes) == 1 or tokens.total([i for g in notes for i in g]) >= before:
            notes = [select(reading, [i for g in notes for i in g], budget=final_tokens, tokens=tokens)]
            levels.append(1)
            break
    final = [i for g in notes for i in g]
    ranked = select(reading, final)
    ranked += [i for i in final if i not in ranked]
    return NotesPlan(tuple(sorted(final, key=lambda i: (reading.doc_rank(reading.units[i].doc_id), i))),
                     tuple(ranked), tuple(levels))


class ReadingCitations(CitationBook):
    """The citation book of a Reading: cites its sentence units by index."""

    def __init__(self, reading: Reading) -> None:
        super().__init__()
        self.reading = reading

    def cite(self, i: int) -> int:
        """The citation number of unit i, assigning the next number on first use."""
        u = self.reading.units[i]
        info = self.reading.infos[u.doc_id]
        return self.number(u.doc_id, u.chunk.chunk_id, info.path, info.title, u.chunk.page, u.start, u.end, u.text)

    def cite_all(self, units: Sequence[int]) -> tuple[int, ...]:
        """Citation numbers of several units, deduplicated, in order."""
        return tuple(dict.fromkeys(self.cite(i) for i in units))


def target_sentences(n_documents: int) -> int:
    """How many sentences a summary of n documents gets."""
    return min(6, max(3, n_documents + 2))


def summary_messages(notes: Sequence[str], sentences: int) -> list[Message]:
    """Chat messages asking the model to condense the notes into a few sentences."""
    body = "\n".join(f"- {n}" for n in notes)
    return [
        {"role": "system", "content": SUMMARY_SYSTEM},
        {"role": "user", "content": f"Notes:\n{body}\n\nSummarise the notes in {sentences} short sentences."},
    ]


def model_sentences(raw: str) -> list[str]:
    """The model's reply cut into clean sentences (markers, meta lines and a cut-off tail removed)."""
    out = []
    for a, b in split_sentences(raw):
        text = raw[a:b]
        m = MARKER.match(text)
        text = _META.sub("", text[m.end():] if m else text).strip()
        if len(content_words(text)) >= 2:
            out.append(" ".join((text[:1].upper() + text[1:]).split()))
    if out and out[-1][-1:] not in ".!?\"'\u201d\u2019)":
        out.pop()
    return out


@dataclass(frozen=True)
class Drafted:
    """A summary sentence and the units that support it (empty when unsupported)."""

    text: str
    units: tuple[int, ...]
    supported: bool


def compose(reading: Reading, plan: NotesPlan, raw: str, target: int, embedder: Embedder) -> list[Drafted]:
    """Verified model sentences, with notes quoted in place of unsupported ones and topping up."""
    drafts = model_sentences(raw)
    vecs = np.asarray(embedder.embed(drafts), dtype=np.float32) if drafts else np.zeros((0, 1), np.float32)
    out: list[Drafted] = []
    kept: list[np.ndarray] = []
    used: set[int] = set()
    for text, vec in zip(drafts, vecs):
        if len(out) >= target:
            break
        if any(float(vec @ k) >= 0.85 for k in kept):
            continue
        units = support(reading, text, embedder)
        if units is not None and set(units) <= used:
            continue
        if units is not None:
            out.append(Drafted(text, units, True))
            used.update(units)
            kept.append(vec)
            continue
        left = [i for i in plan.ranked if i not in used]
        if left:
            best = max(left, key=lambda i: float(reading.vectors[i] @ vec))
            if float(reading.vectors[best] @ vec) < THRESHOLDS.fallback_cosine:
                best = left[0]
            units = _note_units(reading, best, out)
            out.append(Drafted(quoted(reading, units), units, True))
            used.update(units)
            kept.append(reading.vectors[best])
        else:
            out.append(Drafted(text, (), False))
    missing = target - len(out)
    if missing > 0:
        extra = select(reading, [i for i in plan.ranked if i not in used], k=missing, already=sorted(used))
        for i in sorted(extra, key=lambda i: (reading.doc_rank(reading.units[i].doc_id), i)):
            units = _note_units(reading, i, out)
            out.append(Drafted(quoted(reading, units), units, True))
            used.update(units)
    return out


def _note_units(reading: Reading, i: int, out: Sequence[Drafted]) -> tuple[int, ...]:
    """Unit i as a quoted note: with the sentence it leans on, unless the note just before ends with it."""
    units = with_antecedent(reading, i)
    if len(units) == 2 and out and units[0] in out[-1].units:
        return (i,)
    return units


def quoted(reading: Reading, units: Sequence[int]) -> str:
    """The text of consecutive units quoted as one note (a sentence and the antecedent it leans on)."""
    return " ".join(flat(reading.units[i].text) for i in units)


def draft_summary(reading: Reading, generator: Generator, embedder: Embedder, settings: Settings,
                  on_token: Callable[[str], None] | None = None,
                  progress: Progress | None = None) -> tuple[list[Drafted], NotesPlan]:
    """Plan the notes, ask the model for the final summary and verify it (steps 2 to 4).

    `progress` gets (pieces written, most tokens allowed, WRITE_STEP) from 0 up to that most
    (PROMPT_STEP while the model reads its prompt)."""
    target = target_sentences(len([d for d in reading.doc_order if reading.doc_chunks[d]]))
    window = int(generator.context_window)
    max_out = max(32, min(settings.max_tokens, 36 * target, window // 4))
    final_tokens = max(32, min(FINAL_NOTES_TOKENS, window - max_out - PROMPT_OVERHEAD_TOKENS))
    window_tokens = max(final_tokens, window - max_out - PROMPT_OVERHEAD_TOKENS)
    tokens = TokenCounter(reading, generator.count_tokens)
    plan = plan_notes(reading, tokens, window_tokens, final_tokens)
    pieces: list[str] = []
    if progress is not None:
        progress(0, max_out, PROMPT_STEP)
    for piece in generator.stream(summary_messages([flat(reading.units[i].text) for i in plan.notes], target),
                                  max_tokens=max_out):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
        if progress is not None:
            progress(min(len(pieces), max_out), max_out, WRITE_STEP)
    if progress is not None:
        progress(max_out, max_out, WRITE_STEP)
    return compose(reading, plan, "".join(pieces), target, embedder), plan


def summarize(documents: Sequence[DocumentInfo], chunks: Sequence[Chunk], generator: Generator, embedder: Embedder,
              settings: Settings, on_token: Callable[[str], None] | None = None,
              progress: Progress | None = None) -> tuple[VerifiedAnswer, Coverage]:
    """A few-sentence summary of ALL the given chunks, every sentence cited (see the module docstring).

    `chunks` are all chunks of the selected documents. Coverage counts the documents, the chunks
    read by the selection step (all of them) and the chunks given. With no text at all the answer
    is refused and says so. `progress` gets (done, total, what) of the read step, then of the
    final writing (a phase starts again from 0; see read_documents and draft_summary).
    """
    reading = read_documents(documents, chunks, embedder, progress)
    if not reading.units:
        return VerifiedAnswer(NO_TEXT, (), (), True), reading.coverage
    drafted, _ = draft_summary(reading, generator, embedder, settings, on_token, progress)
    book = ReadingCitations(reading)
    sentences = tuple(AnswerSentence(d.text, book.cite_all(d.units), d.supported) for d in drafted)
    answer = " ".join(s.text for s in sentences)
    return VerifiedAnswer(answer, sentences, tuple(book.citations), False), reading.coverage
