"""Generation speed of the default local model: load time, time to first token and tokens/s at
the real prompt sizes (answer_messages over evidence from an index of examples/), and the effect
of llama.cpp's KV prefix reuse (the same prompt again, another question, a follow-up).

    .venv/bin/python bench/bench_generation.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, machine_note, table

from rag.answer.evidence import select_evidence
from rag.answer.prompt import answer_messages
from rag.assistant import Assistant
from rag.config import Settings
from rag.generate.generator import load_generator

QUESTIONS = ["When does the coastal flood levy take effect?",
             "Who opposed the storage consultation and why?"]
FOLLOW_UP = "And what did the ministry say about that?"


def run(generator, messages: list[dict], max_tokens: int) -> dict:  # noqa: ANN001
    """Stream one reply; prompt tokens from llama.cpp's context length afterwards."""
    t0 = time.perf_counter()
    first = None
    pieces: list[str] = []
    for piece in generator.stream(messages, max_tokens=max_tokens):
        if first is None:
            first = time.perf_counter() - t0
        pieces.append(piece)
    total = time.perf_counter() - t0
    text = "".join(pieces)
    out_tokens = generator.count_tokens(text) if text else 0
    llm = getattr(generator, "_llm", None)
    prompt_tokens = int(llm.n_tokens) - out_tokens if llm is not None else None
    decode = (out_tokens - 1) / (total - first) if first is not None and out_tokens > 1 and total > first else None
    return {"prompt_tokens": prompt_tokens, "ttft_ms": round(first * 1000) if first is not None else None,
            "out_tokens": out_tokens, "tok_s": round(decode, 1) if decode else None,
            "prompt_tok_s": round(prompt_tokens / first) if prompt_tokens and first else None,
            "total_s": round(total, 2), "text": text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-tokens", type=int, default=None, help="default: Settings().max_tokens")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    try:
        settings = Settings.from_env(index_dir=work / "index")
        max_tokens = args.max_tokens or settings.max_tokens
        t0 = time.perf_counter()
        generator = load_generator(settings)
        window = generator.context_window  # loads the model
        load_s = time.perf_counter() - t0
        rows = []
        with Assistant(settings, generator=generator) as assistant:
            assistant.ingest([ROOT / "examples"], exclude=["README.md"])

            def prompt(question: str, history: list[dict] | None = None, sources: int | None = None) -> list[dict]:
                hits = assistant.search(question, k=20 if sources else None)
                extra = {"max_sources": sources} if sources else {}
                evidence = select_evidence(question, hits, assistant.embedder, settings, **extra)
                return answer_messages(question, evidence, history or [], context_window=window,
                                       count_tokens=generator.count_tokens)

            first = prompt(QUESTIONS[0])
            r = run(generator, first, max_tokens)
            rows.append(["answer prompt, cold KV cache", r])
            rows.append(["same prompt again (prefix reuse)", run(generator, first, max_tokens)])
            rows.append(["another question (system prompt reused)", run(generator, prompt(QUESTIONS[1]), max_tokens)])
            history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": r["text"]}]
            rows.append(["follow-up with history", run(generator, prompt(FOLLOW_UP, history), max_tokens)])
            rows.append(["large prompt (20 sources)", run(generator, prompt(QUESTIONS[1], sources=20), max_tokens)])
        print(f"model {generator.info.get('llm')} (n_ctx {window}, {settings.thread_count} threads), loaded in "
              f"{load_s:.2f} s; max_tokens {max_tokens}; {machine_note()}")
        print(table(["prompt", "prompt tok", "first token ms", "prompt tok/s", "out tok", "decode tok/s", "total s"],
                    [[name, r["prompt_tokens"], r["ttft_ms"], r["prompt_tok_s"], r["out_tokens"], r["tok_s"],
                      r["total_s"]] for name, r in rows]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
