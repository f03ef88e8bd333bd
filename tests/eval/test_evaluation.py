"""rag eval: metrics against hand-computed values, dataset loading, runs with fakes, and the CLI end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Settings
from rag.errors import ConfigError
from rag.eval import metrics as m
from rag.eval.render import render
from rag.eval.run import eval_qa, eval_retrieval, eval_summary, load_qa_set, sample, write_corpus
from tests.fakes import HashingEmbedder, ScriptedGenerator

DOCS = [
    ("levy", "Coastal levy", "The coastal flood levy takes effect on 1 January 2027. The levy is 0.8% of "
     "assessed property value, the finance ministry said."),
    ("storage", "Grid storage memo", "The energy ministry set a target of 2.4 GWh of grid battery storage by 2030. "
     "Critics say lithium supply chains are fragile."),
    ("port", "Port authority note", "The port of Kessel will deepen its channel to 16 metres. Dredging starts in "
     "spring and costs 120 million."),
    ("farm", "", "Farmers with fewer than 40 hectares are exempt from the coastal flood levy, officials confirmed."),
]
QUESTIONS = [
    ("q1", "When does the coastal flood levy take effect?", ["1 January 2027"], ["levy"]),
    ("q2", "What target for grid battery storage did the energy ministry set?", ["2.4 GWh"], ["storage"]),
    ("q3", "How deep will the port of Kessel channel be?", ["16 metres"], ["port"]),
    ("q4", "Which farmers are exempt from the levy?", ["fewer than 40 hectares"], ["farm", "levy"]),
    ("q5", "What is the population of Mars?", [], []),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    with open(folder / "corpus.jsonl", "w") as fh:
        for key, title, text in DOCS:
            fh.write(json.dumps({"id": key, "title": title, "text": text}) + "\n")
    with open(folder / "questions.jsonl", "w") as fh:
        for key, question, answers, evidence in QUESTIONS:
            fh.write(json.dumps({"id": key, "question": question, "answers": answers,
                                 "evidence_doc_ids": evidence, "is_impossible": not answers}) + "\n")
    return folder


# -- metrics --------------------------------------------------------------------------------------
def test_ndcg_matches_hand_computation() -> None:
    relevant = {"a": 1.0, "c": 1.0}
    # relevant at ranks 2 and 3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(["x", "a", "c", "y"], relevant, 10) == pytest.approx(expected)
    assert m.ndcg_at_k(["a", "c"], relevant, 10) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x", "y"], relevant, 10) == 0.0
    assert m.ndcg_at_k(["x", "a"], relevant, 1) == 0.0
    assert m.ndcg_at_k(["a"], {}, 10) == 0.0


def test_ndcg_uses_graded_gains() -> None:
    relevant = {"a": 2.0, "b": 1.0}
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert m.ndcg_at_k(["b", "a"], relevant, 10) == pytest.approx(expected)


def test_recall_and_mrr() -> None:
    relevant = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}
    ranking = ["x", "a", "y", "b", "z", "c"]
    assert m.recall_at_k(ranking, relevant, 5) == pytest.approx(0.5)
    assert m.recall_at_k(ranking, relevant, 100) == pytest.approx(0.75)
    assert m.mrr_at_k(ranking, relevant, 10) == pytest.approx(0.5)
    assert m.mrr_at_k(["x"] * 10 + ["a"], relevant, 10) == 0.0


def test_doc_ranking_keeps_each_documents_best_chunk() -> None:
    assert m.doc_ranking(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]


def test_squad_normalisation_and_containment() -> None:
    assert m.normalize_answer("The  Eiffel-Tower, in Paris!") == "eiffeltower in paris"
    assert m.normalize_answer("An apple a day") == "apple day"
    assert m.contains_gold("It opened in October, 1973.", ["october 1973"])
    assert m.contains_gold("The answer is the Treaty of Rome", ["Treaty of Rome."])
    assert not m.contains_gold("In 19735 it rose", ["1973"])  # word boundaries
    assert not m.contains_gold("anything", [""])
    # news text: curly quotes around the answer, a possessive after a name, typographic apostrophes
    assert m.contains_gold("He called it “purposefully distorted,” aides said.", ["“Purposefully distorted”"])
    assert m.contains_gold("Adrien Brody's speech broke the record.", ["Adrien Brody"])
    assert m.contains_gold("The rocket’s exhaust lit the sky", ["The rocket's exhaust"])
    assert not m.contains_gold("Brodyson spoke", ["Brody"])
    assert m.contains_gold("Luka Doncic was traded", ["Luka Dončić"])  # accents folded, both ways
    assert m.contains_gold("Emilia Pérez led", ["“Emilia Perez”"])


def test_rouge_through_the_library() -> None:
    same = m.rouge_f("the cat sat on the mat", "the cat sat on the mat")
    assert same == {name: pytest.approx(1.0) for name in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    two = m.rouge_f("Alpha beta gamma. Delta epsilon.", "Delta epsilon. Alpha beta gamma.")
    assert two["rougeLsum"] == pytest.approx(1.0) and two["rougeL"] < 1.0  # summary-level LCS per sentence
    half = m.rouge_f("cats sitting", "the cat sat")  # stemming: cats -> cat; 1 of 2 vs 1 of 3 unigrams
    assert half["rouge1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert half["rouge2"] == 0.0


def test_lead_and_sentences() -> None:
    docs = ["First one. Second one! Third? Fourth.", "Other doc."]
    assert m.split_sentences(docs[0]) == ["First one.", "Second one!", "Third?", "Fourth."]
    assert m.lead_n(docs, 3) == "First one. Second one! Third?"
    assert m.lead_n(["Only one.", "Two. Three. Four."], 3) == "Only one. Two. Three."


def test_percentile_and_mean() -> None:
    assert m.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert m.percentile([5.0], 95) == 5.0
    assert m.percentile([], 50) is None
    assert m.mean([]) is None


# -- data -----------------------------------------------------------------------------------------
def test_load_common_format(dataset: Path) -> None:
    corpus, questions = load_qa_set(dataset)
    assert [r.id for r in corpus] == ["levy", "storage", "port", "farm"]
    assert questions[3].relevant == {"farm": 1.0, "levy": 1.0}
    assert questions[4].unanswerable and not questions[0].unanswerable


def test_load_beir_layout(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "x"}\n'
                                           '{"_id": "d2", "title": "", "text": "y"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "q one"}\n{"_id": "2", "text": "q two"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td2\t1\n")
    corpus, questions = load_qa_set(tmp_path)
    assert len(corpus) == 2
    assert [(q.id, q.relevant) for q in questions] == [("1", {"d2": 1.0})]


def test_missing_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no corpus.jsonl"):
        load_qa_set(tmp_path)


def test_sample_is_seeded_and_keeps_file_order() -> None:
    items = list(range(100))
    first, again = sample(items, 10, 7), sample(items, 10, 7)
    assert first == again and first == sorted(first) and len(set(first)) == 10
    assert sample(items, 10, 8) != first
    assert sample(items, None) == items


def test_write_corpus_titles_and_reuse(tmp_path: Path) -> None:
    mapping = write_corpus(tmp_path / "docs", DOCS)
    files = sorted((tmp_path / "docs").iterdir())
    assert [f.name for f in files] == ["000000.md", "000001.md", "000002.md", "000003.txt"]
    assert files[0].read_text().startswith("# Coastal levy\n\nThe coastal flood levy")
    assert set(mapping.values()) == {"levy", "storage", "port", "farm"}
    mtime = files[0].stat().st_mtime_ns
    write_corpus(tmp_path / "docs", DOCS[:2])
    assert files[0].stat().st_mtime_ns == mtime  # unchanged files are not rewritten
    assert len(list((tmp_path / "docs").iterdir())) == 2  # strays removed


# -- runs with fakes ------------------------------------------------------------------------------
def test_eval_retrieval_with_fake_embedder(dataset: Path, tmp_path: Path) -> None:
    result = eval_retrieval(dataset, Settings(), embedder=HashingEmbedder(), workdir=tmp_path / "ws", progress=False)
    assert result["questions"] == 4 and result["corpus_docs"] == 4
    assert set(result["modes"]) == {"dense", "bm25", "hybrid"}
    bm25 = result["modes"]["bm25"]
    assert bm25["recall@100"] >= 0.75
    assert bm25["mrr@10"] > 0.5
    assert result["ingest"]["documents"] == 4
    again = eval_retrieval(dataset, Settings(), embedder=HashingEmbedder(), workdir=tmp_path / "ws", progress=False)
    assert again["ingest"]["unchanged"] == 4
    assert [again["modes"][k]["ndcg@10"] for k in again["modes"]] == [result["modes"][k]["ndcg@10"] for k in
                                                                      result["modes"]]
    assert "ndcg@10" in render(result)


def test_eval_qa_with_scripted_generator(dataset: Path) -> None:
    gen = ScriptedGenerator(["The coastal flood levy takes effect on 1 January 2027 [1]."])
    result = eval_qa(dataset, Settings(), limit=2, seed=1, embedder=HashingEmbedder(), generator=gen, progress=False)
    assert result["questions"] == 2
    metrics = result["metrics"]
    assert metrics["citation_validity"] in (None, 1.0)
    assert 0.0 <= metrics["answered_rate"] <= 1.0
    assert "answered_rate" in render(result)


def test_eval_summary_with_scripted_generator(tmp_path: Path) -> None:
    folder = tmp_path / "sums"
    folder.mkdir()
    rows = [{"id": "c1", "documents": [DOCS[0][2], DOCS[3][2]], "summary": "A coastal flood levy starts in 2027."},
            {"id": "c2", "document": DOCS[2][2], "summary": "Kessel port will be dredged to 16 metres."}]
    (folder / "summaries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    gen = ScriptedGenerator(["The coastal flood levy takes effect on 1 January 2027."])
    result = eval_summary(folder, Settings(), embedder=HashingEmbedder(), generator=gen, progress=False)
    assert result["items"] == 2 and result["documents"] == 3
    assert 0.0 < result["lead3"]["rouge1"] <= 1.0
    assert result["system"]["rouge1"] is not None
    assert "ROUGE-1" in render(result)


# -- end to end through the CLI and the real models --------------------------------------------------
def _rag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, timeout=900)


@pytest.mark.e2e
def test_cli_eval_retrieval_end_to_end(dataset: Path) -> None:
    proc = _rag("eval", "retrieval", "--data", str(dataset), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["questions"] == 4
    for mode in ("dense", "bm25", "hybrid"):
        assert result["modes"][mode]["recall@5"] == pytest.approx(1.0)
    assert result["modes"]["hybrid"]["ndcg@10"] > 0.9
    table = _rag("eval", "retrieval", "--data", str(dataset))
    assert table.returncode == 0 and "hybrid" in table.stdout and "ndcg@10" in table.stdout


@pytest.mark.e2e
def test_cli_eval_qa_end_to_end(dataset: Path) -> None:
    proc = _rag("eval", "qa", "--data", str(dataset), "--limit", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["questions"] == 3
    assert result["metrics"]["citation_validity"] in (None, 1.0)  # every quote is a slice of its document
    assert result["latency_ms"]["total"]["p50"] > 0


def test_cli_eval_bad_folder_is_an_error(tmp_path: Path) -> None:
    proc = _rag("eval", "retrieval", "--data", str(tmp_path / "nope"))
    assert proc.returncode == 1 and proc.stderr.startswith("Error:")


def test_dated_documents_carry_a_date_line_the_reader_takes(tmp_path: Path) -> None:
    from rag.ingest.documents import read_document
    from rag.ingest.sources import hash_file

    rows = tmp_path / "data"
    rows.mkdir()
    (rows / "corpus.jsonl").write_text(json.dumps({"id": "a", "title": "", "text": "Snow closed Oslo airport.",
                                                   "date": "2025/01/10"}) + "\n"
                                       + json.dumps({"id": "b", "title": "Levy", "text": "The levy rose.",
                                                     "date": "2025-03-07T10:00:00Z"}) + "\n")
    (rows / "questions.jsonl").write_text(json.dumps({"id": "q", "question": "What closed?", "answers": ["Oslo"],
                                                      "question_date": "2025/01/12"}) + "\n")
    corpus, questions = load_qa_set(rows)
    assert [r.date for r in corpus] == ["2025-01-10", "2025-03-07"] and questions[0].date == "2025-01-12"
    write_corpus(tmp_path / "docs", [(r.id, r.title, r.text, r.date) for r in corpus])
    files = sorted((tmp_path / "docs").iterdir())
    assert files[1].read_text() == "# Levy\n\nDate: 2025-03-07\n\nThe levy rose.\n"
    assert [read_document(hash_file(f)).date for f in files] == ["2025-01-10", "2025-03-07"]
