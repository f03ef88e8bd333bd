"""RealTime QA answers end to end by question month, with an evidence setting swept.

    .venv/bin/python bench/bench_news_answers.py --workdir DIR [--values 0,0.3] [--setting evidence_in_dates]

Runs what `rag eval qa --data ../shared/eval/realtimeqa --month M` runs (the whole corpus indexed
once in DIR, every question of the month asked as of its own date through the real model) for each
value of one THRESHOLDS or Settings field: answered, answer holds the gold, evidence retrieved (the gold
paragraph among the answer's hits), citation precision. A value is chosen on the tuning months
(January-February, which the judge was trained on) and reported on March, which nothing was tuned
or trained on.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path

from _util import machine_note, table, thresholds_set, workdir_or_temporary

from rag.config import Settings, eval_data_dir
from rag.eval.run import eval_qa

FIGURES = ("answered_rate", "contains_gold", "evidence_retrieved", "citation_precision")
BOOLS = ("true", "false", "on", "off")
LABELS = ("answered", "holds gold", "gold evidence", "cite prec.")


def _value(raw: str) -> float | int | bool:
    if raw.lower() in BOOLS:
        return raw.lower() in ("true", "on")
    return int(raw) if raw.lstrip("-").isdigit() else float(raw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", default="evidence_in_dates", help="the THRESHOLDS or Settings field swept")
    ap.add_argument("--values", default="0,0.3", help="comma-separated values of it")
    ap.add_argument("--tune", default="2025-01,2025-02")
    ap.add_argument("--report", default="2025-03")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the index here (reused when unchanged)")
    args = ap.parse_args()
    data = eval_data_dir() / "realtimeqa"
    months = {"tune": args.tune.split(","), "report": args.report.split(",")}
    settings = Settings.from_env()
    rows = []
    with workdir_or_temporary(args.workdir, "bench-news-answers-") as root:
        for raw in args.values.split(","):
            value = _value(raw)
            got: dict[str, dict[str, float]] = {}
            in_settings = args.setting in {f.name for f in dataclasses.fields(Settings)}
            run_settings = settings.with_(**{args.setting: value}) if in_settings else settings
            with contextlib.nullcontext() if in_settings else thresholds_set(**{args.setting: value}):
                for name, ms in months.items():
                    runs = [eval_qa(data, run_settings, workdir=root, month=mo, progress=False) for mo in ms]
                    total = sum(r["answerable"] for r in runs)
                    got[name] = {f: sum((r["metrics"][f] or 0.0) * r["answerable"] for r in runs) / total
                                 for f in FIGURES}
                    got[name]["questions"] = total
            rows.append([f"{args.setting}={value}"] + [f"{got[n][f]:.3f}" for n in months for f in FIGURES])
            print(rows[-1], flush=True)
        print(f"RealTime QA answers: tune {args.tune} ({got['tune']['questions']:.0f} questions), report "
              f"{args.report} ({got['report']['questions']:.0f}); model {settings.model_path.name}; {machine_note()}")
        print(table(["setting"] + [f"{n} {lab}" for n in months for lab in LABELS], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
