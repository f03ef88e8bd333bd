"""Int8 embeddings: NNCF post-training quantisation of the exported OpenVINO model.

The fp32 export (rag.embed.backends) is quantised once, weights and activations to int8, into the
same cache (~/.cache/briefing-rag/openvino/<export>-int8-<version>/), by `make setup` or on first
use; running it needs openvino alone. Calibration is deterministic and local: the paragraphs of
the model's own card (README.md of the model folder) and the chunks and sentences of the
project's example briefings (examples/ beside the package, when the checkout has it), each
tokenised as the embedder tokenises it, in a fixed order, with every sample used (nothing is
sampled, nothing downloaded). What it was calibrated on is written to quantize.json.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from rag.errors import ModelError

QUANT_VERSION = "ptq-1"  # bump when the recipe or the calibration set changes
MAX_CALIBRATION = 600  # samples; the card and the examples give about 250
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def int8_dir(fp32_dir: Path) -> Path:
    """Where the int8 model quantised from the fp32 export in `fp32_dir` lives (beside it)."""
    return fp32_dir.with_name(f"{fp32_dir.name}-int8-{QUANT_VERSION}")


def can_quantize() -> bool:
    """True when NNCF (needed only to make the int8 model) can be imported."""
    import importlib.util

    return importlib.util.find_spec("nncf") is not None


def calibration_texts(model_path: str | Path, examples: Path | None = EXAMPLES_DIR) -> list[str]:
    """The calibration texts, in a fixed order: the model card's paragraphs, then each example
    briefing's chunks and sentences (files in name order; unreadable ones skipped)."""
    root = Path(model_path).expanduser()
    card = root / "README.md"
    texts: list[str] = []
    if card.is_file():
        body = _FRONT_MATTER.sub("", card.read_text(encoding="utf-8", errors="replace"))
        texts += [p.strip() for p in re.split(r"\n\s*\n", body) if len(p.strip()) >= 20]
    if examples is not None and examples.is_dir():
        texts += _example_texts(examples)
    if not texts:
        raise ModelError(f"{root}: no calibration text to quantise with (no README.md, no examples/)")
    return list(dict.fromkeys(texts))[:MAX_CALIBRATION]


def _example_texts(folder: Path) -> list[str]:
    from rag.errors import DocumentError
    from rag.ingest.chunking import chunk_document
    from rag.ingest.documents import read_document
    from rag.ingest.sources import hash_file

    texts: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            doc = read_document(hash_file(path))
        except DocumentError:
            continue
        texts += ["\n".join(part for part in (doc.title, c.heading, c.text) if part) for c in chunk_document(doc)]
        texts += [s.strip() for s in _SENTENCE_END.split(doc.text) if len(s.strip()) >= 20]
    return texts


def quantize(fp32: Path, dest: Path, model_path: Path, tokenizer_file: Path, max_len: int, lower_case: bool) -> Path:
    """Quantise the fp32 IR `fp32` into `dest` (model.xml, model.bin, quantize.json), calibrated on
    `calibration_texts(model_path)` tokenised as the embedder does; atomic (a crash leaves no half
    model), never downloads. Raises ModelError when NNCF is missing."""
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        raise ModelError(f"making the int8 embedder needs nncf once ({exc}): run `make setup`, "
                         "pip install nncf, or set RAG_EMBED_PRECISION=fp32") from exc
    texts = calibration_texts(model_path)
    model = ov.Core().read_model(str(fp32))
    names = [port.get_any_name() for port in model.inputs]
    samples = _samples(tokenizer_file, texts, max_len, lower_case, names)
    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: never on a command's stdout
        quantized = nncf.quantize(model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                                  preset=nncf.QuantizationPreset.PERFORMANCE, subset_size=len(samples))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        ov.save_model(quantized, str(tmp / "model.xml"), compress_to_fp16=False)
        digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
        meta: dict[str, Any] = {
            "version": QUANT_VERSION, "source": str(fp32), "nncf": getattr(nncf, "__version__", "?"),
            "openvino": ov.get_version(), "recipe": "nncf.quantize, ModelType.TRANSFORMER, preset PERFORMANCE",
            "calibration": {"samples": len(samples), "sha256": digest,
                            "from": ["model card (README.md)"] + (["examples/"] if EXAMPLES_DIR.is_dir() else [])},
        }
        meta["model.bin sha256"] = hashlib.sha256((tmp / "model.bin").read_bytes()).hexdigest()
        (tmp / "quantize.json").write_text(json.dumps(meta, indent=2))
        tmp.chmod(0o755)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process quantised the same model first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest / "model.xml"


def _samples(tokenizer_file: Path, texts: list[str], max_len: int, lower: bool,
             names: list[str]) -> list[dict[str, Any]]:
    import numpy as np
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_len)
    samples = []
    for enc in tokenizer.encode_batch([t.lower() for t in texts] if lower else texts):
        ids = np.asarray([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                 "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64)}
        samples.append({name: feeds[name] for name in names})
    return samples
