"""Tests for rag.embed.embedder: identity, loading errors, caching, batching, and the real packaged model."""

from __future__ import annotations

import numpy as np
import pytest

from rag.config import Settings, packaged_embedder_path
from rag.embed.embedder import Embedder, SentenceTransformerEmbedder, embedder_id, load_embedder
from rag.errors import ConfigError, ModelError


def _write_model_folder(folder, hidden_size: int = 8) -> None:
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x"}]')
    (folder / "config.json").write_text('{"hidden_size": %d}' % hidden_size)


class _StubModel:
    """Records the batches it is given and returns a deterministic unit vector per text."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    @staticmethod
    def vector(text: str) -> np.ndarray:
        vec = np.array([len(text) + 1.0, (sum(map(ord, text)) % 97) + 1.0, 1.0, 2.0], dtype=np.float64)
        return vec / np.linalg.norm(vec)

    def encode(self, texts, batch_size, normalize_embeddings, convert_to_numpy, show_progress_bar):
        assert normalize_embeddings and convert_to_numpy and not show_progress_bar
        assert len(texts) <= batch_size
        self.batches.append(list(texts))
        return np.stack([self.vector(t) for t in texts])


def _stubbed(batch_size: int = 3) -> tuple[SentenceTransformerEmbedder, _StubModel]:
    embedder = SentenceTransformerEmbedder("stub-model", "stub", batch_size=batch_size)
    stub = _StubModel()
    embedder._model = stub
    embedder._dim = 4
    return embedder, stub


def test_embed_batches_by_length_and_restores_order():
    embedder, stub = _stubbed(batch_size=3)
    texts = ["a" * 50, "bb", "c" * 10, "bb", "d" * 30, "", "e" * 5, "f" * 70]
    vectors = embedder.embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (8, 4)
    for text, vec in zip(texts, vectors):
        np.testing.assert_allclose(vec, _StubModel.vector(text), rtol=1e-6)
    flat = [t for batch in stub.batches for t in batch]
    assert sorted(flat) == sorted(set(texts)), "each distinct text is embedded exactly once"
    lengths = [len(t) for t in flat]
    assert lengths == sorted(lengths), "batches are filled shortest first"
    assert all(len(b) <= 3 for b in stub.batches)


def test_embed_query_and_empty_input():
    embedder, _ = _stubbed()
    np.testing.assert_allclose(embedder.embed_query("hello"), _StubModel.vector("hello"), rtol=1e-6)
    assert embedder.embed([]).shape == (0, 4)


def test_embedder_id_for_packaged_default_and_hub_names():
    assert embedder_id(Settings()) == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder_id(Settings(embedder="BAAI/bge-small-en-v1.5")) == "BAAI/bge-small-en-v1.5"


def test_embedder_id_for_a_folder_hashes_its_config(tmp_path):
    folder = tmp_path / "my-embedder"
    _write_model_folder(folder)
    first = embedder_id(Settings(embedder=str(folder)))
    assert first.startswith("my-embedder@") and len(first) > len("my-embedder@")
    assert embedder_id(Settings(embedder=str(folder))) == first
    (folder / "config.json").write_text('{"hidden_size": 16}')
    assert embedder_id(Settings(embedder=str(folder))) != first


def test_missing_folder_is_a_model_error_naming_the_path(tmp_path):
    missing = tmp_path / "no" / "such-model"
    with pytest.raises(ModelError, match="no/such-model"):
        embedder_id(Settings(embedder=str(missing)))
    embedder = SentenceTransformerEmbedder(str(missing), "x")
    with pytest.raises(ModelError, match=r"not found.*make setup"):
        embedder.embed(["text"])
    with pytest.raises(ModelError, match="such-model"):
        _ = embedder.dim


def test_folder_without_a_model_is_a_model_error(tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"empty-model.*no modules.json"):
        SentenceTransformerEmbedder(str(empty), "x").embed_query("text")


def test_load_embedder_shares_one_instance_per_settings_and_loads_lazily(tmp_path):
    folder = tmp_path / "lazy-model"
    _write_model_folder(folder)
    first = load_embedder(Settings(embedder=str(folder)))
    assert load_embedder(Settings(embedder=str(folder))) is first
    assert load_embedder(Settings(embedder=str(folder), embed_batch_size=8)) is not first
    assert first.id.startswith("lazy-model@")
    assert first._model is None  # nothing loaded until first use


def test_unavailable_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="not available"):
        load_embedder(Settings(embed_backend="onnx"))


# ---- end to end with the real packaged model -----------------------------------------------


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    try:
        packaged_embedder_path()
    except ConfigError as exc:
        pytest.skip(f"packaged embedder not installed: {exc}")
    return load_embedder(Settings())


@pytest.mark.e2e
def test_real_model_vectors(real_embedder):
    assert real_embedder.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert real_embedder.dim == 384
    assert isinstance(real_embedder, Embedder)
    texts = [
        "Sanctions were extended for another six months.",
        "Short.",
        "The delegation, which arrived late on Tuesday after a delayed flight from the capital, "
        "met the foreign minister to discuss the border dispute and the humanitarian corridor. " * 3,
        "",
        "Observers expect talks to resume in May.",
    ]
    vectors = real_embedder.embed(texts)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # a text's vector does not depend on its batch: equal to the cosine bound the index relies on
    # (OpenVINO runs bf16 on CPUs that have it, so elements differ by a few 1e-4 across batch shapes)
    one_by_one = np.stack([real_embedder.embed([t])[0] for t in texts])
    assert (vectors * one_by_one).sum(axis=1).min() > 0.9999
    query = real_embedder.embed_query(texts[0])
    assert query.shape == (384,) and query.dtype == np.float32
    assert float(query @ vectors[0]) > 0.9999
    assert real_embedder.embed([]).shape == (0, 384)


@pytest.mark.e2e
def test_real_model_ranks_paraphrases_above_unrelated_text(real_embedder):
    a, b, c = real_embedder.embed(
        [
            "The ministry postponed the peace talks until next month.",
            "Negotiations for peace were delayed by the ministry to the following month.",
            "Heavy rainfall flooded several farms in the river valley.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


@pytest.mark.e2e
def test_real_loader_rejects_a_broken_folder(tmp_path, real_embedder):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"broken-model.*make setup"):
        SentenceTransformerEmbedder(str(broken), "broken").embed(["text"])
