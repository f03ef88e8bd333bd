"""The approximate (IVF) vector index used past FLAT_LIMIT chunks, on small clustered data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.store.indexes import FLAT_LIMIT, VectorIndex, ivf_settings

DIM = 32


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """6,000 unit vectors in 60 clusters, rowids 10, 13, 16, ..., and 50 queries near the data."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(60, DIM))
    vecs = centres[rng.integers(0, 60, 6000)] + rng.normal(scale=0.35, size=(6000, DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    queries = vecs[rng.integers(0, 6000, 50)] + rng.normal(scale=0.2, size=(50, DIM)).astype(np.float32)
    ids = np.arange(6000, dtype=np.int64) * 3 + 10
    return ids, vecs, (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_settings_grow_with_size() -> None:
    assert ivf_settings(100_000) == (632, 75)
    assert ivf_settings(1_000_000) == (2000, 134)
    assert FLAT_LIMIT >= 10_000


def test_ivf_recall_against_exact_search(clustered) -> None:
    ids, vecs, queries = clustered
    exact = VectorIndex.build(ids, vecs, DIM)
    ivf = VectorIndex.build(ids, vecs, DIM, flat_limit=1000)
    assert exact.kind == "flat" and ivf.kind == "ivf"
    info = ivf.describe()
    assert info["kind"] == "ivf" and info["vectors"] == 6000 and 0 < info["nprobe"] <= info["nlist"]
    recalls = []
    for q in queries:
        want = set(exact.search(q, 10)[0].tolist())
        got, scores = ivf.search(q, 10)
        assert set(got.tolist()) <= set(ids.tolist())
        assert np.all(np.diff(scores) <= 1e-6)
        recalls.append(len(want & set(got.tolist())) / 10)
    assert np.mean(recalls) >= 0.9


def test_ivf_filtered_search_is_exact(clustered) -> None:
    ids, vecs, queries = clustered
    ivf = VectorIndex.build(ids, vecs, DIM, flat_limit=1000)
    allowed = ids[::7]
    got, scores = ivf.search(queries[0], 5, allowed=np.append(allowed, 999_999))  # an unknown id is ignored
    by_id = dict(zip(ids.tolist(), vecs))
    expected = sorted(allowed.tolist(), key=lambda r: -float(by_id[r] @ queries[0]))[:5]
    assert got.tolist() == expected
    assert scores[0] == pytest.approx(float(by_id[expected[0]] @ queries[0]), abs=1e-5)
    assert ivf.search(queries[0], 5, allowed=np.zeros(0, dtype=np.int64))[0].size == 0


def test_ivf_survives_save_and_load(clustered, tmp_path: Path) -> None:
    ids, vecs, queries = clustered
    ivf = VectorIndex.build(ids, vecs, DIM, flat_limit=1000)
    ivf.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", DIM)
    assert loaded.describe() == ivf.describe()
    assert loaded.search(queries[1], 10)[0].tolist() == ivf.search(queries[1], 10)[0].tolist()
    assert loaded.search(queries[1], 3, allowed=ids[:40])[0].tolist() == ivf.search(queries[1], 3, allowed=ids[:40])[0].tolist()
