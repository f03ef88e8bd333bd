"""The OpenVINO embedding backend: model inspection, batching, the local export cache, and agreement
with the PyTorch sentence-transformers vectors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embed.backends import OpenVINOEmbedder, export_openvino, make_fast_embedder, model_spec, resolve_backend
from rag.embed.embedder import SentenceTransformerEmbedder, load_embedder
from rag.errors import ConfigError, ModelError

TEXTS = ["The coastal flood levy takes effect on 1 January 2027.",
         "Grid battery storage target: 2.4 GWh by 2030.",
         "short",
         "A much longer passage about dredging the port of Kessel to sixteen metres, which starts in spring, "
         "costs 120 million and has been opposed by fishermen who fear for the eel population. " * 6]


def _fake_model(folder: Path, modules: list[str] | None = None, pooling: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    kinds = modules or ["Transformer", "Pooling", "Normalize"]
    paths = ["", "1_Pooling", "2_Normalize", "3_Dense"]
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": paths[i], "type": f"sentence_transformers.models.{k}"}
         for i, k in enumerate(kinds)]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling or {
        "word_embedding_dimension": 8, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 128}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": True}))
    return folder


def test_model_spec_reads_pipeline(tmp_path: Path) -> None:
    spec = model_spec(_fake_model(tmp_path / "m"))
    assert (spec.pooling, spec.dim, spec.lower_case) == ("mean", 8, True)
    assert spec.max_seq_length == 128  # capped by the position embeddings


def test_model_spec_rejects_extra_modules_and_pooling(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Transformer"):
        model_spec(_fake_model(tmp_path / "dense", ["Transformer", "Pooling", "Normalize", "Dense"]))
    with pytest.raises(ModelError, match="pooling"):
        model_spec(_fake_model(tmp_path / "sqrt", pooling={
            "word_embedding_dimension": 8, "pooling_mode_mean_tokens": False, "pooling_mode_mean_sqrt_len_tokens": True}))
    with pytest.raises(ModelError, match="modules.json"):
        model_spec(tmp_path)


def test_auto_falls_back_to_torch_for_unsupported_models(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path / "dense", ["Transformer", "Pooling", "Dense"])
    assert resolve_backend("auto", folder) == "torch"
    assert resolve_backend("torch", folder) == "torch"
    with pytest.raises(ConfigError, match="onnx"):
        make_fast_embedder(folder, "x", backend="onnx")


def test_batches_group_similar_lengths_under_a_token_budget(tmp_path: Path) -> None:
    emb = OpenVINOEmbedder(_fake_model(tmp_path / "m"), "x", batch_size=2)
    lengths = [5, 300, 7, 6, 290, 8, 5, 5, 5, 5]
    batches = emb._batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 8192
        assert len(batch) <= 8
    assert [lengths[b[0]] for b in batches] == sorted(lengths[b[0]] for b in batches)


@pytest.mark.e2e
def test_openvino_matches_torch_and_caches_the_export(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from sentence_transformers import SentenceTransformer

    path = Settings().embedder_path
    cache = tmp_path / "cache"
    emb = OpenVINOEmbedder(path, "sentence-transformers/all-MiniLM-L6-v2", batch_size=2, cache_dir=cache)
    vectors = emb.embed(TEXTS + [TEXTS[0]])
    assert vectors.shape == (5, emb.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(vectors[0], vectors[4])
    reference = SentenceTransformer(path, device="cpu").encode(TEXTS, normalize_embeddings=True)
    cosines = np.sum(vectors[:4] * reference, axis=1)
    assert cosines.min() > 0.999
    assert np.allclose(emb.embed_query(TEXTS[1]), vectors[1], atol=1e-3)
    xml = export_openvino(path, cache)
    stamp = xml.stat().st_mtime_ns
    assert export_openvino(path, cache) == xml and xml.stat().st_mtime_ns == stamp  # cached, not redone
    assert emb.info["backend"] == "openvino"
    shutil.rmtree(cache)


def test_auto_backend_is_openvino_for_the_packaged_model_when_installed() -> None:
    pytest.importorskip("openvino")
    settings = Settings(embed_backend="auto")
    assert resolve_backend("auto", settings.embedder_path) == "openvino"
    embedder = load_embedder(settings)
    assert isinstance(embedder, OpenVINOEmbedder)
    assert embedder.id == "sentence-transformers/all-MiniLM-L6-v2"  # same index identity as PyTorch
    assert isinstance(load_embedder(Settings(embed_backend="torch")), SentenceTransformerEmbedder)


@pytest.mark.e2e
def test_many_small_length_sorted_batches_on_the_chosen_streams_keep_input_order() -> None:
    pytest.importorskip("openvino")
    settings = Settings()
    emb = OpenVINOEmbedder(settings.embedder_path, "x", weights="fp32", precision="f32")
    emb.tokens_per_batch = 1  # the floor (max_seq_length tokens): many batches over parallel streams
    texts = [("word " * n).strip() + f" item {i}" for i, n in enumerate([300, 2, 40, 1, 120, 7, 60, 3, 250, 15])]
    vectors = emb.embed(texts)
    assert len(emb._batches([len(e.ids) for e in emb._tokenizer.encode_batch(texts)])) > 2
    alone = np.stack([emb.embed_query(t) for t in texts])
    assert np.min(np.sum(vectors * alone, axis=1)) > 0.9999
    plan = emb.plan
    assert plan is not None and 1 <= plan.free <= plan.cores and int(emb.info["streams"]) == plan.streams
