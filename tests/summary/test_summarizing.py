"""Map-reduce summaries and the structured brief (rag/summary/: mapreduce, extractive, brief)."""

from __future__ import annotations

import re

import pytest

from rag.config import Settings
from rag.summary.brief import _quantities, find_actors, find_open_questions, find_tensions, make_brief
from rag.summary.extractive import TokenCounter, _is_eligible, read_documents, support
from rag.summary.mapreduce import ReadingCitations, plan_notes, summarize
from rag.types import Chunk, DocumentInfo
from tests.fakes import HashingEmbedder, ScriptedGenerator

LEVY_JAN = (
    '# Coastal levy announced\n'
    '\n'
    'The Ministry of Finance announced a coastal flood-defence levy for the Republic of Maravia. Finance '
    'Minister Ana Petrov said the levy will be set at 2% of annual property tax. Petrov argued that the '
    "levy is essential to protect coastal towns from rising seas. The Fishermen's Union warned that the "
    'levy is an unfair burden on small harbours. It is unclear whether inland households will also pay '
    'the levy.\n'
)

LEVY_MAR = (
    'The Ministry of Finance now says the coastal flood-defence levy will be set at 1.5% of annual '
    'property tax. Ana Petrov, the finance minister, said the lower rate reflects new cost estimates from'
    ' the coastal engineers. The National Grid Operator stated that 400 MW of battery storage will be '
    'built by 2028. The start date of the levy has not been decided by the cabinet.\n'
)

GRID_FEB = (
    'The National Grid Operator announced a target of 300 MW of battery storage by 2028. Director Tomas '
    'Varga said the storage target supports the flood-defence plan for coastal towns. Engineers expect '
    'the first batteries to connect to the grid next winter.\n'
)

DOCS = [("d1", "Levy announcement", "2026-01-15", LEVY_JAN),
        ("d2", "Levy update", "2026-03-02", LEVY_MAR),
        ("d3", "Grid storage targets", "2026-02-10", GRID_FEB)]
INFO_DATES = {doc_id: date for doc_id, _, date, _ in DOCS}


def make_chunks(doc_id: str, text: str, size: int = 2, overlap: int = 1) -> list[Chunk]:
    """Chunks of `size` sentences (overlapping by `overlap`) with exact offsets into `text`."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\s][^\n.!?]*(?:[.!?]|\n|$)", text) if m.group().strip()]
    chunks, i = [], 0
    while i < len(spans):
        group = spans[i:i + size]
        start, end = group[0][0], group[-1][1]
        while text[end - 1].isspace():
            end -= 1
        chunks.append(Chunk(f"{doc_id}-{len(chunks):03d}", doc_id, len(chunks), text[start:end], start, end))
        if i + size >= len(spans):
            break
        i += size - overlap
    return chunks


def corpus(docs=DOCS, size: int = 2, overlap: int = 1):
    infos, chunks, texts = [], [], {}
    for doc_id, title, date, text in docs:
        cs = make_chunks(doc_id, text, size, overlap)
        infos.append(DocumentInfo(doc_id, f"/docs/{doc_id}.md", title, date, "sha", 0, len(cs)))
        chunks.extend(cs)
        texts[doc_id] = text
    return infos, chunks, texts


def assert_quotes_exact(citations, texts) -> None:
    assert citations
    for c in citations:
        assert c.quote and texts[c.doc_id][c.start:c.end] == c.quote


def test_test_chunker_keeps_offsets():
    _, chunks, texts = corpus()
    assert len(chunks) > 6
    for c in chunks:
        assert texts[c.doc_id][c.start:c.end] == c.text


def test_summary_reads_every_chunk_and_cites_every_sentence():
    infos, chunks, texts = corpus()
    gen = ScriptedGenerator(["Nothing here is in the notes at all, it is pure invention about owls."])
    answer, coverage = summarize(infos, chunks, gen, HashingEmbedder(), Settings())
    assert (coverage.documents, coverage.chunks_read, coverage.chunks_total) == (3, len(chunks), len(chunks))
    assert not answer.refused and len(answer.sentences) == 5
    assert all(s.supported and s.citations for s in answer.sentences)
    assert_quotes_exact(answer.citations, texts)
    cited_docs = {answer.citations[n - 1].doc_id for s in answer.sentences for n in s.citations}
    assert cited_docs == {"d1", "d2", "d3"}
    prompt = gen.calls[0][-1]["content"]
    assert "Notes:" in prompt and all(s.text in prompt for s in answer.sentences)


def test_overlapping_chunks_do_not_duplicate_sentences():
    infos, chunks, _ = corpus(size=3, overlap=2)
    reading = read_documents(infos, chunks, HashingEmbedder())
    spans = [(u.doc_id, u.start, u.end) for u in reading.units]
    assert len(spans) == len(set(spans)) == 5 + 4 + 3 + 1  # the Markdown heading is a unit too
    assert reading.coverage.chunks_read == len(chunks)


def test_final_tokens_stream_through_on_token():
    infos, chunks, _ = corpus()
    reply = "Finance Minister Ana Petrov said the levy will be set at 2% of annual property tax."
    pieces: list[str] = []
    summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings(), on_token=pieces.append)
    assert "".join(pieces) == reply and len(pieces) > 5


def test_supported_model_sentence_keeps_its_wording_and_cites_the_source():
    infos, chunks, texts = corpus()
    reply = "Ana Petrov said the levy will be set at 2% of annual property tax, and the union warned it is an unfair burden."
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    first = answer.sentences[0]
    assert first.text == reply and first.supported and len(first.citations) == 2
    quotes = [answer.citations[n - 1].quote for n in first.citations]
    assert "2% of annual property tax" in quotes[0] and "unfair burden" in quotes[1]
    assert_quotes_exact(answer.citations, texts)


def test_unsupported_model_sentence_is_replaced_by_a_quoted_note():
    infos, chunks, texts = corpus()
    reply = "Ana Petrov said the levy will be set at 3% of annual property tax. The moon is made of green cheese."
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    assert all(s.supported for s in answer.sentences)
    assert not any("3%" in s.text or "cheese" in s.text for s in answer.sentences)
    for s in answer.sentences[:2]:
        assert len(s.citations) == 1 and answer.citations[s.citations[0] - 1].quote == s.text
    assert_quotes_exact(answer.citations, texts)


def test_unsupported_sentence_is_marked_when_no_note_is_left():
    text = "The harbour wall at Port Lira will be raised by two metres before the storm season."
    infos, chunks, texts = corpus([("d1", "Harbour", None, text)])
    reply = text + " Zorblat signed ninety treaties with the moon people."
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    assert [s.supported for s in answer.sentences] == [True, False]
    assert answer.sentences[0].citations == (1,) and answer.sentences[1].citations == ()
    assert "Zorblat" in answer.sentences[1].text
    assert_quotes_exact(answer.citations, texts)


def test_support_checks_numbers_names_and_negation():
    infos, chunks, _ = corpus()
    emb = HashingEmbedder()
    reading = read_documents(infos, chunks, emb)
    assert support(reading, "The levy will be set at 1.5% of annual property tax.", emb) is not None
    assert support(reading, "The levy will be set at 7% of annual property tax.", emb) is None
    assert support(reading, "Director Tomas Varga argued that the levy is essential to protect coastal towns.", emb) is None
    assert support(reading, "The start date of the levy has been decided by the cabinet.", emb) is None
    assert support(reading, "The levy will be raised by 1.5% of annual property tax.", emb) is None


def test_reduce_runs_level_by_level_when_notes_exceed_the_window():
    filler = " ".join(f"Station {k} in district {k % 7} reported {k * 3} new sandbag deliveries to the harbour crews."
                      for k in range(30))
    docs = [(f"d{j}", f"Log {j}", f"2026-01-{10 + j}", filler.replace("Station", f"Depot{j} station"))
            for j in range(4)]
    infos, chunks, texts = corpus(docs, size=2, overlap=0)
    emb = HashingEmbedder()
    reading = read_documents(infos, chunks, emb)
    gen = ScriptedGenerator([""], context_window=900)
    tokens = TokenCounter(reading, gen.count_tokens)
    plan = plan_notes(reading, tokens, window_tokens=400, final_tokens=150)
    assert plan.levels[0] >= 8 and len(plan.levels) >= 3
    assert tokens.total(plan.notes) <= 150
    assert len({reading.units[i].doc_id for i in plan.notes}) == 4

    answer, coverage = summarize(infos, chunks, gen, emb, Settings())
    assert coverage.chunks_read == coverage.chunks_total == len(chunks) == 60
    user = gen.calls[0][-1]["content"]
    assert gen.count_tokens(user) < 900 - 200
    assert all(s.supported for s in answer.sentences)
    assert_quotes_exact(answer.citations, texts)


def test_citations_are_numbered_in_first_use_order_without_duplicates():
    infos, chunks, texts = corpus()
    reading = read_documents(infos, chunks, HashingEmbedder())
    book = ReadingCitations(reading)
    assert book.cite_all([5, 2, 5]) == (1, 2)
    assert book.cite(2) == 2 and book.cite(0) == 3
    assert [c.n for c in book.citations] == [1, 2, 3]
    reply = ("The Ministry of Finance now says the coastal flood-defence levy will be set at 1.5% of annual property tax. "
             "Petrov argued that the levy is essential to protect coastal towns from rising seas.")
    answer, _ = summarize(infos, chunks, ScriptedGenerator([reply]), HashingEmbedder(), Settings())
    order = [n for s in answer.sentences for n in s.citations]
    assert sorted(set(order)) == list(range(1, len(answer.citations) + 1))
    assert list(dict.fromkeys(order)) == sorted(set(order))
    assert len({(c.doc_id, c.start, c.end) for c in answer.citations}) == len(answer.citations)
    assert_quotes_exact(answer.citations, texts)


def test_empty_selection_is_refused_with_zero_coverage():
    info = DocumentInfo("d0", "/docs/empty.txt", "Empty", None, "sha", 0, 0)
    answer, coverage = summarize([info], [], ScriptedGenerator(["x"]), HashingEmbedder(), Settings())
    assert answer.refused and answer.citations == () and "no text" in answer.answer
    assert (coverage.documents, coverage.chunks_read, coverage.chunks_total) == (1, 0, 0)


def test_quantities_by_kind():
    text = "The levy of 1.5% starts on 1 July 2027, costs $40 million and adds 400 MW by 2028 rather than later."
    q = {kind: {value: raw for value, (raw, start, end) in found.items() if text[start:end].strip() == raw}
         for kind, found in _quantities(text).items()}
    assert q["%"] == {"1.5": "1.5%"} and q["date"] == {"2027-07-01": "1 July 2027"}
    assert list(q["money"]) == ["$40million"] and q["mw"] == {"400": "400 MW"} and q["year"] == {"2028": "2028"}


def test_actors_found_with_roles_and_merged_surnames():
    infos, chunks, _ = corpus()
    reading = read_documents(infos, chunks, HashingEmbedder())
    actors = {a.name: a for a in find_actors(reading)}
    assert {"Ana Petrov", "Fishermen's Union", "National Grid Operator", "Tomas Varga", "Ministry of Finance"} <= set(actors)
    petrov = actors["Ana Petrov"]
    assert petrov.role == "Finance Minister" and len(petrov.units) == 3
    assert {reading.units[i].doc_id for i in petrov.units} == {"d1", "d2"}
    assert actors["Fishermen's Union"].role == "organisation" and actors["Tomas Varga"].role == "Director"


def test_office_appositive_and_bare_title_resolve_to_the_person():
    text = ("The Minister for Harbours and Energy, Lena Orsk, has confirmed that the quay levy starts in May. "
            "The Ministry of Harbours and Energy announces that bills follow in June. "
            "\"We will not delay,\" the Minister said. The Ministry stated that the quay fund is separate.")
    infos, chunks, _ = corpus([("d1", "Quay note", "2026-05-01", text)])
    reading = read_documents(infos, chunks, HashingEmbedder())
    actors = {a.name: a for a in find_actors(reading)}
    assert set(actors) == {"Lena Orsk", "Ministry of Harbours and Energy"}
    assert actors["Lena Orsk"].role == "Minister for Harbours and Energy" and len(actors["Lena Orsk"].units) == 2
    assert len(actors["Ministry of Harbours and Energy"].units) == 2


def test_revision_that_repeats_the_old_figure_is_a_tension_but_other_figures_are_not():
    docs = [("old", "Plan", "2025-11-04", "The agency expects the quay levy to raise 120 million marks a year. "
             "Storage on a grid that is 60% renewable needs careful planning by the agency."),
            ("new", "Revision", "2026-04-16", "The agency now expects the quay levy to raise about 95 million marks a "
             "year, down from the 120 million marks it expected before. Curtailment stays below 4% on a grid that is "
             "60% renewable with careful planning by the agency.")]
    infos, chunks, _ = corpus(docs)
    reading = read_documents(infos, chunks, HashingEmbedder())
    texts = [t[0] for t in find_tensions(reading, [])]
    assert len(texts) == 1 and texts[0].startswith(
        "Sources disagree (95 million marks vs 120 million marks): the latest source (2026-04-16, Revision)")


def test_headings_and_front_matter_are_never_quoted():
    sentence = "Minister Lena Orsk said on 3 May that the quay levy would not be delayed."
    assert _is_eligible(sentence)
    assert not _is_eligible("What the parties said\n" + sentence)
    assert not _is_eligible("title: Quay levy note\ndate: 2026-05-01\nauthor: Ministry of Harbours and Energy")
    assert not _is_eligible("Quay levy start date moved to 1 January 2027 after the valuation review")
    text = "# Quay levy\n\n" + sentence
    infos, chunks, _ = corpus([("d1", "Paper", None, text)])
    reading = read_documents(infos, chunks, HashingEmbedder())
    assert [(u.text, u.eligible) for u in reading.units] == [("Quay levy", False), (sentence, True)]


def test_tensions_name_the_latest_source_and_its_date():
    infos, chunks, _ = corpus()
    reading = read_documents(infos, chunks, HashingEmbedder())
    tensions = find_tensions(reading, find_actors(reading))
    levy = next(t for t in tensions if "1.5%" in t[0])
    assert levy[0].startswith("Sources disagree (1.5% vs 2%): the latest source (2026-03-02, Levy update) says")
    assert "an earlier one (2026-01-15, Levy announcement) said" in levy[0]
    newer, older = levy[1]
    assert reading.units[newer].doc_id == "d2" and reading.units[older].doc_id == "d1"
    grid = next(t for t in tensions if "MW" in t[0])
    assert "(400 MW vs 300 MW): the latest source (2026-03-02" in grid[0]


def test_undated_tension_names_both_sources_without_ranking():
    docs = [("a", "Memo A", None, "The harbour wall will be raised by 2 metres before the storm season."),
            ("b", "Memo B", None, "The harbour wall will be raised by 3 metres before the storm season.")]
    infos, chunks, _ = corpus(docs)
    reading = read_documents(infos, chunks, HashingEmbedder())
    (text, _, _), = find_tensions(reading, [])
    assert text.startswith("Sources disagree (2 metres vs 3 metres): Memo A says") and "latest" not in text


def test_open_questions_flag_unresolved_points():
    infos, chunks, _ = corpus()
    reading = read_documents(infos, chunks, HashingEmbedder())
    texts = [reading.units[i].text for i in find_open_questions(reading)]
    assert any("unclear whether inland households" in t for t in texts)
    assert any("has not been decided" in t for t in texts)
    assert not any("300 MW" in t for t in texts)


def test_brief_cites_every_claim_in_first_use_order():
    infos, chunks, texts = corpus()
    gen = ScriptedGenerator(["Ana Petrov said the levy will be set at 2% of annual property tax. Cows can fly."])
    brief = make_brief(infos, chunks, gen, HashingEmbedder(), Settings())
    assert brief.key_points and brief.actors and brief.tensions and brief.open_questions
    assert brief.coverage.chunks_read == brief.coverage.chunks_total == len(chunks)
    claims = list(brief.key_points) + [p for a in brief.actors for p in a.positions] + list(brief.tensions) + list(
        brief.open_questions)
    assert all(c.citations for c in claims)
    order = list(dict.fromkeys(n for c in claims for n in c.citations))
    assert order == list(range(1, len(brief.citations) + 1))
    assert_quotes_exact(brief.citations, texts)
    petrov = next(a for a in brief.actors if a.name == "Ana Petrov")
    assert petrov.positions[0].text.startswith("2026-01-15: ") and petrov.positions[-1].text.startswith("2026-03-02: ")
    assert not any("fly" in c.text for c in brief.key_points)


@pytest.mark.e2e
@pytest.mark.slow
def test_real_models_summary_and_brief():
    from rag.config import configure_offline
    from rag.embed.embedder import load_embedder
    from rag.generate.generator import load_generator

    configure_offline()
    infos, chunks, texts = corpus(size=3, overlap=1)
    settings = Settings(max_tokens=128)
    embedder, generator = load_embedder(settings), load_generator(settings)
    pieces: list[str] = []
    answer, coverage = summarize(infos, chunks, generator, embedder, settings, on_token=pieces.append)
    assert pieces and coverage.chunks_read == coverage.chunks_total == len(chunks) and coverage.documents == 3
    assert answer.sentences and all(s.supported and s.citations for s in answer.sentences)
    assert_quotes_exact(answer.citations, texts)

    brief = make_brief(infos, chunks, generator, embedder, settings)
    assert_quotes_exact(brief.citations, texts)
    assert any(a.positions and all(p.citations for p in a.positions) for a in brief.actors)
    dated = [t for t in brief.tensions if "the latest source (2026-03-02, Levy update) says" in t.text]
    assert dated and all(len(t.citations) == 2 for t in dated)
    for tension in dated:
        latest, earlier = (brief.citations[n - 1].doc_id for n in tension.citations)
        assert latest == "d2" and earlier in {"d1", "d3"} and f"an earlier one ({INFO_DATES[earlier]}" in tension.text


def test_disfluent_transcript_speech_is_not_quoted() -> None:
    assert not _is_eligible("Grad C: Um , so {disfmarker} so it definitely had that as a concept .")
    assert not _is_eligible("Uh, well, um, I think, uh, we could maybe look at the levy again.")
    assert not _is_eligible("Chair: Thank you. Minister: The levy will raise 340 million marks a year.")
    assert _is_eligible("Professor B: We agreed that the budget for the storage study should double.")
    assert _is_eligible("The Minister said: the levy will raise 340 million marks a year from owners.")
