"""The int8 embedder: calibration set, cache layout, choosing the weights, agreement with fp32,
and the index identity rule (int8 and fp32 are one embedder: an index built with one is searched
with the other)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.config import Settings
from rag.embed.backends import OpenVINOEmbedder, export_dir, int8_openvino, resolve_weights
from rag.embed.embedder import PACKAGED_EMBEDDER_ID, load_embedder
from rag.embed.quantize import QUANT_VERSION, calibration_texts, can_quantize, int8_dir
from rag.errors import ConfigError, ModelError

SENTENCES = ["The coastal flood levy takes effect on 1 January 2027.",
             "Grid battery storage target: 2.4 GWh by 2030.",
             "Dr Okafor opposed the proposal, warning that it would raise household bills.",
             "short",
             "The ministry postponed the levy after the consultation drew 4,000 responses from ports, "
             "fishing cooperatives and local councils along the northern coast. " * 4]
# int8 vs fp32 cosine: min 0.9803, mean 0.9950 over the 2,348 chunk texts of 1,000 SciFact abstracts
# (README "Embeddings"); the bound the index identity rule relies on
INT8_COSINE_BOUND = 0.98


def _card_model(folder: Path, card: str | None) -> Path:
    folder.mkdir(parents=True)
    if card is not None:
        (folder / "README.md").write_text(card)
    return folder


def test_calibration_texts_are_the_card_then_the_examples_in_a_fixed_order(tmp_path: Path) -> None:
    model = _card_model(tmp_path / "m", "---\nlicense: x\n---\n# A model card title\n\nIt maps sentences to "
                                        "vectors for semantic search.\n\nok\n")
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "b.txt").write_text("The levy was postponed. Ports had objected to the schedule.\n")
    (examples / "a.md").write_text("# Storage\n\nThe grid operator wants 2.4 GWh of batteries by 2030.\n")
    texts = calibration_texts(model, examples)
    assert texts[:2] == ["# A model card title", "It maps sentences to vectors for semantic search."]
    assert "license: x" not in " ".join(texts) and "ok" not in texts  # front matter and scraps left out
    later = texts[2:]
    assert any("2.4 GWh" in t for t in later) and any("postponed" in t for t in later)
    assert min(i for i, t in enumerate(later) if "GWh" in t) < min(i for i, t in enumerate(later) if "postponed" in t)
    assert len(texts) == len(set(texts))
    assert calibration_texts(model, examples) == texts  # deterministic
    assert calibration_texts(model, None) == texts[:2]


def test_no_calibration_text_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="calibration"):
        calibration_texts(_card_model(tmp_path / "m", None), None)


def test_int8_model_lives_beside_its_fp32_export(tmp_path: Path) -> None:
    fp32 = tmp_path / "cache" / "pkg-model-0123456789abcdef"
    assert int8_dir(fp32) == fp32.parent / f"pkg-model-0123456789abcdef-int8-{QUANT_VERSION}"


def test_weights_auto_is_int8_when_cached_or_quantisable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Settings().embedder_path
    cache = tmp_path / "cache"
    assert resolve_weights("fp32", path, cache) == "fp32"
    assert resolve_weights("int8", path, cache) == "int8"
    monkeypatch.setattr("rag.embed.quantize.can_quantize", lambda: False)
    assert resolve_weights("auto", path, cache) == "fp32"  # no NNCF and nothing cached: fp32
    cached = int8_dir(export_dir(path, cache))
    cached.mkdir(parents=True)
    (cached / "model.xml").write_text("<net/>")
    assert resolve_weights("auto", path, cache) == "int8"
    monkeypatch.setattr("rag.embed.quantize.can_quantize", lambda: True)
    assert resolve_weights("auto", path, tmp_path / "other") == "int8"


def test_precision_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="embed_precision"):
        Settings(embed_precision="int4").validate()
    assert Settings.from_env({"RAG_EMBED_PRECISION": "fp32"}).embed_precision == "fp32"
    with pytest.raises(ConfigError, match="embed_precision"):
        OpenVINOEmbedder(Settings().embedder_path, "x", weights="fp16")
    with pytest.raises(ConfigError, match="openvino backend only"):
        load_embedder(Settings(embed_backend="torch", embed_precision="int8"))


def test_int8_and_fp32_share_the_index_identity() -> None:
    pytest.importorskip("openvino")
    int8 = load_embedder(Settings(embed_precision="int8"))
    fp32 = load_embedder(Settings(embed_precision="fp32"))
    assert isinstance(int8, OpenVINOEmbedder) and isinstance(fp32, OpenVINOEmbedder)
    assert (int8.weights, fp32.weights) == ("int8", "fp32")
    assert int8.id == fp32.id == PACKAGED_EMBEDDER_ID


def _int8_available() -> None:
    pytest.importorskip("openvino")
    path = Settings().embedder_path
    if not (int8_dir(export_dir(path)) / "model.xml").is_file() and not can_quantize():
        pytest.skip("no int8 model cached and no NNCF to make one (run `make setup`)")


@pytest.mark.e2e
def test_int8_model_loads_and_stays_close_to_fp32() -> None:
    _int8_available()
    path = Settings().embedder_path
    xml = int8_openvino(path)
    record = json.loads((xml.parent / "quantize.json").read_text())
    assert record["version"] == QUANT_VERSION and record["calibration"]["samples"] > 100
    int8 = OpenVINOEmbedder(path, PACKAGED_EMBEDDER_ID, weights="int8")
    fp32 = OpenVINOEmbedder(path, PACKAGED_EMBEDDER_ID, weights="fp32", precision="f32")
    a, b = int8.embed(SENTENCES), fp32.embed(SENTENCES)
    assert a.shape == (len(SENTENCES), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > INT8_COSINE_BOUND
    assert int8.info["weights"] == "int8"
    assert int8_openvino(path) == xml  # cached: not quantised again


@pytest.mark.e2e
def test_an_index_built_with_fp32_is_searched_with_int8(tmp_path: Path) -> None:
    _int8_available()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "levy.txt").write_text("The coastal flood levy takes effect on 1 January 2027, the ministry said.\n")
    (docs / "grid.txt").write_text("The grid operator wants 2.4 GWh of battery storage by 2030.\n")
    (docs / "eels.txt").write_text("Fishermen fear that dredging the port of Kessel will harm the eel population.\n")
    settings = Settings(index_dir=tmp_path / "index", judge="off")
    with Assistant(settings.with_(embed_precision="fp32")) as assistant:
        assistant.ingest([docs])
    with Assistant(settings.with_(embed_precision="int8")) as assistant:
        assert assistant.embedder.info["weights"] == "int8"
        hits = assistant.search("When does the flood levy start?", k=3, mode="dense")
        assert Path(hits[0].path).name == "levy.txt"
        assert Path(assistant.search("battery storage target", k=3, mode="dense")[0].path).name == "grid.txt"
