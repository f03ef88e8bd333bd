"""Client-side BM25 sparse vectors: the local index's terms, Lucene's formula once Qdrant's IDF
modifier weighs them."""

from __future__ import annotations

import math

import pytest

from rag.store.sparse import AVG_TERMS, K1, B, document_vectors, query_vector, term_index, terms

DOCS = ["grid storage battery target", "coastal levy levy farmers", "port channel dredging levy",
        "battery lithium supply"]


def test_terms_are_the_local_bm25_terms():
    assert terms(["The grid storage targets were raised, raised again."]) == [
        ["grid", "storag", "target", "were", "rais", "rais", "again"]]
    assert query_vector("the of and") == ([], [])
    idx, values = query_vector("levy levy harbour")
    assert dict(zip(idx, values)) == {term_index("levi"): 2.0, term_index("harbour"): 1.0}


def test_document_values_are_bm25_term_frequencies():
    (idx, values), = document_vectors(["coastal levy levy farmers"])
    norm = K1 * (1 - B + B * 4 / AVG_TERMS)
    by_term = dict(zip(idx, values))
    assert by_term[term_index("levi")] == pytest.approx(2 * (K1 + 1) / (2 + norm))
    assert by_term[term_index("coastal")] == pytest.approx((K1 + 1) / (1 + norm))
    assert idx == sorted(idx)


def test_qdrant_idf_modifier_makes_the_dot_product_lucene_bm25():
    models = pytest.importorskip("qdrant_client").models
    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:")
    client.create_collection("t", vectors_config={}, sparse_vectors_config={
        "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)})
    client.upsert("t", [models.PointStruct(id=i + 1, vector={"bm25": models.SparseVector(indices=a, values=b)})
                        for i, (a, b) in enumerate(document_vectors(DOCS))])
    idx, values = query_vector("levy")
    found = client.query_points("t", query=models.SparseVector(indices=idx, values=values), using="bm25").points
    idf = math.log(1 + (4 - 2 + 0.5) / (2 + 0.5))  # 4 documents, 2 hold "levy"
    doc = dict(zip(*document_vectors([DOCS[1]])[0]))
    assert [p.id for p in found] == [2, 3]
    assert found[0].score == pytest.approx(idf * doc[idx[0]], rel=1e-5)
