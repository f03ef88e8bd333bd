"""Faster embedding backends: the sentence-transformers model exported locally to OpenVINO.

The export reads the packaged (or any local) sentence-transformers folder, traces the transformer
with its pooling and normalisation into one OpenVINO graph, and caches it under
~/.cache/briefing-rag/openvino/ (XDG_CACHE_HOME respected); nothing is downloaded. At run time
only `openvino` and `tokenizers` are imported (no torch), texts are tokenised once, sorted by
token count and cut into batches of similar length under a token budget, run on as many
single-threaded streams as the cores other processes leave free allow (rag.embed.cores), and the CPU's fastest
precision is used (bf16 on CPUs with AMX/AVX512-BF16; vectors agree with PyTorch fp32 to a
cosine above 0.9999). `int8_openvino` gives the same export quantised to int8 (rag.embed.quantize),
which `embed_precision` auto runs. Models the exporter does not understand fall back to PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag.config import cache_root
from rag.embed.cores import StreamPlan, busy_since, cpu_sample, free_cores, stream_plan
from rag.errors import ConfigError, ModelError
from rag.thresholds import THRESHOLDS

FAST_BACKENDS = ("openvino",)
WEIGHTS = ("fp32", "int8")
EXPORT_VERSION = "ov-export-1"  # bump when the exported graph changes
_POOLING = ("cls", "mean", "max")


@dataclass(frozen=True)
class ModelSpec:
    """What the exporter needs to know about a sentence-transformers folder."""

    folder: Path  # the transformer module's folder (weights, config, tokenizer)
    max_seq_length: int
    lower_case: bool
    pooling: str
    dim: int


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def model_spec(model_path: str | Path) -> ModelSpec:
    """The transformer + pooling (+ normalize) pipeline of a local model folder.

    Raises ModelError naming what is unsupported (other modules, pooling modes, no tokenizer.json).
    """
    root = Path(model_path).expanduser()
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        raise ModelError(f"{root}: no modules.json, not a sentence-transformers folder")
    modules = _read_json(modules_file)
    kinds = [str(mod.get("type", "")).rsplit(".", 1)[-1] for mod in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ModelError(f"{root}: modules {kinds} are not Transformer + Pooling (+ Normalize)")
    folder = root / modules[0].get("path", "")
    pool_cfg = _read_json(root / modules[1]["path"] / "config.json")
    modes = [mode for mode in _POOLING if pool_cfg.get(f"pooling_mode_{mode}_token" if mode == "cls"
                                                      else f"pooling_mode_{mode}_tokens")]
    other = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode_") and v and
             k not in ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens")]
    if len(modes) != 1 or other:
        raise ModelError(f"{root}: pooling {pool_cfg} is not exactly one of cls, mean, max")
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder}: no tokenizer.json (a fast tokenizer is needed)")
    st_cfg = folder / "sentence_bert_config.json"
    st = _read_json(st_cfg) if st_cfg.is_file() else {}
    max_len = int(st.get("max_seq_length") or 512)
    model_cfg = _read_json(folder / "config.json")
    max_len = min(max_len, int(model_cfg.get("max_position_embeddings", max_len)))
    return ModelSpec(folder=folder, max_seq_length=max_len, lower_case=bool(st.get("do_lower_case", False)),
                     pooling=modes[0], dim=int(pool_cfg["word_embedding_dimension"]))


def backend_available(backend: str = "openvino") -> bool:
    """True when the runtime of `backend` can be imported."""
    import importlib.util

    return backend == "openvino" and all(importlib.util.find_spec(m) is not None for m in ("openvino", "tokenizers"))


def resolve_backend(requested: str, model_path: str | Path) -> str:
    """The backend to use: "auto" is openvino when installed and the model supported, else torch."""
    if requested != "auto":
        return requested
    if not backend_available("openvino"):
        return "torch"
    try:
        model_spec(model_path)
    except ModelError:
        return "torch"
    return "openvino"


def _fingerprint(spec: ModelSpec, root: Path) -> str:
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for file in sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts):
        stat = file.stat()
        digest.update(f"{file.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update(f"{spec.max_seq_length}|{spec.pooling}|{spec.lower_case}".encode())
    return digest.hexdigest()[:16]


def export_dir(model_path: str | Path, cache_dir: Path | None = None) -> Path:
    """The cache folder of the fp32 export of `model_path` (named after the model's files)."""
    root = Path(model_path).expanduser().resolve()
    spec = model_spec(root)
    return (cache_dir or cache_root() / "openvino") / f"{root.parent.name}-{root.name}-{_fingerprint(spec, root)}"


def export_openvino(model_path: str | Path, cache_dir: Path | None = None) -> Path:
    """The OpenVINO IR (model.xml) of a local model, exporting it on first use; atomic, never downloads."""
    spec = model_spec(Path(model_path).expanduser().resolve())
    dest = export_dir(model_path, cache_dir)
    if (dest / "model.xml").is_file():
        return dest / "model.xml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _convert(spec, tmp)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process exported the same model first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest / "model.xml"


def int8_openvino(model_path: str | Path, cache_dir: Path | None = None) -> Path:
    """The int8 OpenVINO IR (model.xml) of a local model: its fp32 export quantised by NNCF on first
    use and cached beside it (rag.embed.quantize); raises ModelError when NNCF is needed but missing."""
    from rag.embed.quantize import int8_dir, quantize

    root = Path(model_path).expanduser().resolve()
    dest = int8_dir(export_dir(root, cache_dir))
    if (dest / "model.xml").is_file():
        return dest / "model.xml"
    spec = model_spec(root)
    return quantize(export_openvino(root, cache_dir), dest, root, spec.folder / "tokenizer.json",
                    spec.max_seq_length, spec.lower_case)


def _convert(spec: ModelSpec, out: Path) -> None:
    try:
        import inspect

        import openvino as ov
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(f"exporting to OpenVINO needs torch, transformers and openvino ({exc})") from exc
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModel.from_pretrained(str(spec.folder), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load {spec.folder} for export: {exc}") from exc
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            if spec.pooling == "cls":
                pooled = hidden[:, 0]
            elif spec.pooling == "max":
                pooled = (hidden - (1.0 - mask) * 1e9).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    example = {n: torch.ones((2, 8), dtype=torch.long) for n in names}
    if "token_type_ids" in example:
        example["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)  # deprecation notes from transformers' internals
        converted = ov.convert_model(Pooled().eval(), example_input=example)
    ov.save_model(converted, str(out / "model.xml"), compress_to_fp16=False)
    (out / "export.json").write_text(json.dumps({"inputs": names, "pooling": spec.pooling, "dim": spec.dim,
                                                 "max_seq_length": spec.max_seq_length, "source": str(spec.folder),
                                                 "version": EXPORT_VERSION}, indent=2))


class OpenVINOEmbedder:
    """Embedder running an exported sentence-transformers model on OpenVINO (CPU), loaded on first use."""

    def __init__(self, model_path: str | Path, model_id: str, batch_size: int = 64, precision: str = "auto",
                 cache_dir: Path | None = None, weights: str = "fp32", plan: StreamPlan | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"embed_batch_size must be at least 1, not {batch_size}")
        if precision not in ("auto", "f32", "bf16"):
            raise ConfigError(f"precision must be auto, f32 or bf16, not {precision!r}")
        if weights not in WEIGHTS:
            raise ConfigError(f"embed_precision must be one of {', '.join(WEIGHTS)}, not {weights!r}")
        self.id = model_id
        self.spec = model_spec(model_path)
        self.dim = self.spec.dim
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self.precision = precision
        self.weights = weights
        self.cache_dir = cache_dir
        self.tokens_per_batch = THRESHOLDS.embed_tokens_per_batch
        self.plan = plan  # None: chosen from the cores free while the model loads
        self._since = cpu_sample()
        self._compiled: Any = None
        self._request: Any = None
        self._queue: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []
        self._lock = threading.Lock()

    @property
    def info(self) -> dict[str, str]:
        """Backend, weights (fp32 or int8), the precision OpenVINO runs at, its streams and the free
        cores they were chosen from (after loading)."""
        self._load()
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        assert self.plan is not None
        return {"backend": "openvino", "weights": self.weights,
                "precision": getattr(hint, "to_string", lambda: str(hint))(),
                "streams": str(self._compiled.get_property("NUM_STREAMS")),
                "free_cores": f"{self.plan.free} of {self.plan.cores}"}

    def load(self) -> None:
        """Load (export, quantise, compile) the model now rather than on the first embed."""
        self._load()

    def _load(self) -> None:
        if self._compiled is not None:
            return
        with self._lock:
            if self._compiled is None:
                self._open()

    def _open(self) -> None:
        try:
            import openvino as ov
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"the openvino backend needs the openvino and tokenizers packages ({exc})") from exc
        if self.weights == "int8":
            xml = int8_openvino(self.model_path, self.cache_dir)
        else:
            xml = export_openvino(self.model_path, self.cache_dir)
        tokenizer = Tokenizer.from_file(str(self.spec.folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.spec.max_seq_length)
        core = ov.Core()
        if self.plan is None:
            cores = os.cpu_count() or 1
            self.plan = stream_plan(cores, free_cores(cores, busy_since(self._since)))
        config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(self.plan.streams),
                                  "INFERENCE_NUM_THREADS": str(self.plan.streams * self.plan.threads)}
        if self.precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = self.precision
        try:
            core.set_property({"CACHE_DIR": str(xml.parent / "compiled")})
            compiled = core.compile_model(str(xml), "CPU", config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot compile {xml}: {exc}") from exc
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self._tokenizer = tokenizer
        self._request = compiled.create_infer_request()
        self._queue = ov.AsyncInferQueue(compiled, max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))))
        self._compiled = compiled

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        budget = max(self.tokens_per_batch, self.spec.max_seq_length)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current and (len(current) >= self.batch_size * 4 or (len(current) + 1) * lengths[i] > budget):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit float32 vectors for `texts`, in input order."""
        self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        prepared = [t.lower() for t in unique] if self.spec.lower_case else unique
        encodings = self._tokenizer.encode_batch(prepared)
        lengths = [len(e.ids) for e in encodings]
        vectors = np.empty((len(unique), self.dim), dtype=np.float32)
        batches = self._batches(lengths)

        def store(request: Any, batch: list[int]) -> None:
            vectors[batch] = request.get_output_tensor(0).data

        with self._lock:
            try:
                if len(batches) == 1:
                    self._request.infer(self._feeds(batches[0], encodings, lengths))
                    store(self._request, batches[0])
                else:  # batches run on parallel streams as requests free up
                    self._queue.set_callback(store)
                    for batch in batches:
                        self._queue.start_async(self._feeds(batch, encodings, lengths), batch)
                    self._queue.wait_all()
            except RuntimeError as exc:
                raise ModelError(f"embedder {self.id} (openvino) failed: {exc}") from exc
        index = {t: n for n, t in enumerate(unique)}
        return vectors[[index[t] for t in texts]]

    def embed_query(self, text: str) -> np.ndarray:
        """Unit float32 vector for one query."""
        return self.embed([text])[0]

    def _feeds(self, batch: list[int], encodings: Sequence[Any], lengths: Sequence[int]) -> dict[str, np.ndarray]:
        width = max(lengths[i] for i in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = encodings[i].ids
            mask[row, : lengths[i]] = 1
            types[row, : lengths[i]] = encodings[i].type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: feeds[name] for name in self._inputs}


def resolve_weights(requested: str, model_path: str | Path, cache_dir: Path | None = None) -> str:
    """The weights the openvino backend runs: "auto" is int8 when that model is cached or NNCF can
    make it, else fp32."""
    if requested != "auto":
        return requested
    from rag.embed.quantize import can_quantize, int8_dir

    try:
        cached = (int8_dir(export_dir(model_path, cache_dir)) / "model.xml").is_file()
    except ModelError:
        cached = False
    return "int8" if cached or can_quantize() else "fp32"


def make_fast_embedder(model_path: str | Path, model_id: str, backend: str = "openvino",
                       batch_size: int = 64, weights: str = "fp32") -> OpenVINOEmbedder:
    """An Embedder on a fast backend ("openvino") with fp32 or int8 weights; raises ConfigError for a
    backend this module lacks and ModelError when the model cannot run on it."""
    if backend not in FAST_BACKENDS:
        raise ConfigError(f"embed_backend {backend!r} is not available: use auto, torch or openvino")
    if not backend_available(backend):
        raise ModelError(f"embed_backend {backend} needs the openvino package: pip install openvino")
    return OpenVINOEmbedder(model_path, model_id, batch_size=batch_size,
                            weights=resolve_weights(weights, model_path))
