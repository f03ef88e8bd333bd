"""Export a trained judge to OpenVINO IR with int8 weights, and write its model card.

    python -m rag.training.export --model /tmp/judge-hf --out rag/models/judge

The graph takes input_ids, attention_mask, token_type_ids (int64, dynamic batch and length) and
returns the relevance logit per row (output 0; P(answers) = sigmoid(logit)) and the answer-span
start and end logits per token (outputs 1 and 2; see `rag.training.net`). Weights are compressed to int8 with
NNCF (asymmetric, per channel; needs the `train` extra) or, without NNCF, saved as FP16. The
folder gets model.xml/model.bin, the tokenizer files, card.json (sha256 of model.bin, data,
licences, recipe, metrics) and MODEL_CARD.md rendered from card.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from rag.config import configure_offline
from rag.retrieve.judge import file_sha256

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LICENCES = {
    "data": "SQuAD 2.0 (Rajpurkar, Jia and Liang 2018, 'Know What You Don't Know: Unanswerable Questions "
            "for SQuAD'), CC BY-SA 4.0; only the dev-set articles in the split file's train_titles were used",
    "data_realtimeqa": "RealTime QA (Kasai et al. 2022), questions dated 2025-01 and 2025-02 and their articles only; "
                       "news text (c) its publishers, used for internal training only (../shared/eval/README.md)",
    "data_scifact": "SciFact corpus as BEIR ships it (Wadden et al. 2020), CC BY-NC 2.0 per ../shared/eval/README.md: "
                    "paper titles and abstracts only, as self-supervised pairs; no labelled query or claim was read",
    "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Reimers and Gurevych; Microsoft MiniLM), Apache-2.0",
    "model": "the fine-tuned weights are derived from all of the above: Apache-2.0 weights trained on CC BY-SA 4.0, "
             "CC BY-NC 2.0 and internal-use news data; attribute SQuAD 2.0, RealTime QA, SciFact and "
             "all-MiniLM-L6-v2, and check the non-commercial and internal-use terms before redistributing",
}


def _compress(model: Any) -> tuple[Any, str]:
    try:
        import nncf
    except ImportError:
        return model, "fp16"
    return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM), "int8_asym (nncf)"


def export(model_dir: Path, out: Path, probe: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """Convert the Hugging Face folder `model_dir` into `out`; returns the card written there."""
    configure_offline()
    import numpy as np
    import openvino as ov
    import torch
    from transformers import AutoTokenizer

    from rag.training import net as judge_net

    model = judge_net.load(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    train_report = json.loads((model_dir / "train.json").read_text(encoding="utf-8"))
    max_length = int(train_report["max_length"])

    class Logit(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids, attention_mask, token_type_ids)

    example = {"input_ids": torch.ones((2, 8), dtype=torch.long),
               "attention_mask": torch.ones((2, 8), dtype=torch.long),
               "token_type_ids": torch.zeros((2, 8), dtype=torch.long)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(Logit().eval(), example_input=example)
    compressed, precision = _compress(converted)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(compressed, str(out / "model.xml"), compress_to_fp16=precision == "fp16")
    tokenizer.save_pretrained(str(out / ".tok"))
    for file in sorted((out / ".tok").iterdir()):
        shutil.copyfile(file, out / file.name)
    shutil.rmtree(out / ".tok")
    parity = None
    if probe:
        enc = tokenizer([q for q, _ in probe], [p for _, p in probe], truncation="only_second",
                        max_length=max_length, padding=True, return_tensors="np")
        with torch.no_grad():
            ref = Logit()(**{k: torch.from_numpy(enc[k]) for k in INPUTS})[0].numpy()
        got = ov.Core().compile_model(str(out / "model.xml"), "CPU")({k: enc[k] for k in INPUTS})[0]
        parity = round(float(np.max(np.abs(1 / (1 + np.exp(-ref)) - 1 / (1 + np.exp(-got))))), 5)
    card = {
        "name": "briefing-rag judge", "task": "cross-encoder: P(passage answers question)",
        "output": "output 0: one relevance logit per (question, passage) row, probability = sigmoid(logit); "
                  "outputs 1, 2: answer-span start and end logits per token ([CLS] = no answer)",
        "inputs": list(INPUTS), "max_length": max_length, "truncation": "only_second (the passage)",
        "weights": precision, "files": {"model.bin": file_sha256(out / "model.bin"), "model.xml": file_sha256(out / "model.xml")},
        "size_bytes": (out / "model.bin").stat().st_size, "exported": time.strftime("%Y-%m-%d"),
        "max_probability_gap_vs_pytorch": parity, "licences": LICENCES, "training": train_report,
        "recipe": [train_report.get("command", "python -m rag.training.train --out DIR"),
                   f"python -m rag.training.export --model {model_dir} --out {out}",
                   "python bench/bench_judge.py --write-card"],
    }
    previous = out / "card.json"
    if previous.is_file():  # keep metrics and a calibrated threshold measured on these same weights
        old = json.loads(previous.read_text(encoding="utf-8"))
        if old.get("files", {}).get("model.bin") == card["files"]["model.bin"]:
            for key in ("metrics", "answerable_threshold", "calibration"):
                if key in old:
                    card[key] = old[key]
    write_card(out, card)
    return card


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write card.json and MODEL_CARD.md (rendered from it) into `folder`."""
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(render_card(card), encoding="utf-8")


def render_card(card: dict[str, Any]) -> str:
    """The Markdown model card for `card`."""
    t = card.get("training", {})
    lines = [
        "# briefing-rag judge (cross-encoder)", "",
        f"{card['task']}. {card['output']}. Inputs {', '.join(card['inputs'])}; at most {card['max_length']} "
        f"tokens, {card['truncation']} truncated. Weights {card['weights']}, {card['size_bytes'] / 1e6:.1f} MB.", "",
        "## Licence and attribution", "",
        *[f"- {k}: {v}" for k, v in card["licences"].items()], "",
        "## Data", "",
        f"- training articles ({len(t.get('train_titles', []))}): {', '.join(t.get('train_titles', []))}",
        f"- held back for calibration ({len(t.get('calibration_titles', []))}): "
        f"{', '.join(t.get('calibration_titles', []))}",
        "- evaluation: the split file's 12 eval_titles only (never trained on)",
        f"- pairs: {t.get('pairs_trained')} of {t.get('pairs_available')} built, seeded sample; by rule: "
        + ", ".join(f"{k} {v}" for k, v in t.get("pair_kinds_trained", {}).items()), "",
        "## Recipe", "",
        f"Seed {t.get('seed')}; {t.get('epochs')} epoch, batch {t.get('batch_size')}, AdamW lr "
        f"{t.get('learning_rate')}, warm-up {t.get('warmup')}; loss: {t.get('heads', 'BCE on one logit')}; "
        f"torch {t.get('torch')} on {t.get('threads')} CPU threads: {t.get('wall_seconds')} s wall "
        f"({t.get('pairs_per_second')} pairs/s){'; ' + t['timing_note'] if t.get('timing_note') else ''}.", "",
        "```", *card["recipe"], "```", "",
        "## Files", "", *[f"- {k}: sha256 {v}" for k, v in card["files"].items()],
        f"- export parity: largest probability gap to PyTorch fp32 on probe pairs "
        f"{card.get('max_probability_gap_vs_pytorch')}", "",
    ]
    if "answerable_threshold" in card:
        lines += ["## Calibration", "", f"answerable_threshold = {card['answerable_threshold']}: "
                  f"{card.get('calibration', {}).get('rule', '')}", ""]
    if "metrics" in card:
        lines += ["## Metrics (SQuAD v2 eval articles; never trained on)", "", "```",
                  *card["metrics"].get("table", []), "```", "",
                  f"Command: `{card['metrics'].get('command', '')}`", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the export."""
    ap = argparse.ArgumentParser(prog="python -m rag.training.export", description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="folder written by rag.training.train")
    ap.add_argument("--out", type=Path, default=Path("rag/models/judge"))
    args = ap.parse_args(argv)
    probe = [("When did the oil crisis begin?", "The 1973 oil crisis began in October 1973."),
             ("Who wrote the report?", "The harbour was dredged in spring, and the ferry resumed in May.")]
    card = export(args.model, args.out, probe)
    print(json.dumps({k: card[k] for k in ("weights", "size_bytes", "files", "max_probability_gap_vs_pytorch")},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
