"""Follow-up accuracy in chat: two-turn conversations over examples/ (and a short profile of Nikola
Tesla from tests/answer/corpus/people) through the real models, as `rag chat` runs them.

Each conversation is a first question and a follow-up that leans on it ("he", "it", "after that").
A follow-up counts as right when its answer is not refused, holds the expected words (in the
answer text, quotes included) and cites the expected document. The same follow-ups asked with no
history (the question as typed, searched as is) show what the rewrite adds.

    .venv/bin/python bench/bench_followups.py
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _util import ROOT, machine_note, table

from rag.assistant import Assistant
from rag.config import Settings

CONVERSATIONS = [
    # (first question, follow-up, words the follow-up's answer must hold, a word of the cited file's name)
    ("Which company did Tesla work for in France in 1882?",
     "In what year did he emigrate to the United States after that?", ["1884"], "tesla"),
    ("Who is the Minister for Coastal Affairs and Energy?",
     "When did he inform the Infrastructure Committee of the postponement?", ["15 April 2026"], "postponed"),
    ("What is the rate of the coastal flood-defence levy?", "When does it take effect?", ["1 January 2027"],
     "postponed"),
    ("What storage target does the plan set for 2030?", "Who will run the auctions for it?", ["MERA"], ""),
    ("Which households can defer payment of the levy?", "Until when can they defer it?", ["sold"], ""),
    ("What discount will port operational land receive on the levy?", "Who negotiated it with the Ministry?",
     ["Port of Calvera Authority"], "postponed"),
    ("Who will complete the revaluation of the Coastal Risk Zones?", "By what date will it finish it?",
     ["30 September 2026"], "postponed"),
    ("How many kilometres of sea walls does the Fund's first programme cover?",
     "Between which places will they be built?", ["Calvera", "Port Elsen"], ""),
    ("What interim storage milestone does the plan set?", "By when must it be reached?", ["2027"], ""),
    ("How many properties does the coastal levy apply to?", "In which zones are they?", ["A and B"], ""),
]


def right(answer, expected: list[str], doc_word: str) -> bool:  # noqa: ANN001
    text = answer.answer
    cited = " ".join(c.path.lower() for c in answer.citations)
    return not answer.refused and all(e in text for e in expected) and doc_word in cited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-followups-"))
    try:
        shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("README.md"))
        shutil.copytree(ROOT / "tests" / "answer" / "corpus" / "people", work / "people")
        with Assistant(Settings.from_env(index_dir=work / "index")) as assistant:
            assistant.ingest([work / "examples", work / "people"])
            print(machine_note())
            rows, chat_right, alone_right, seconds = [], 0, 0, []
            for first, follow, expected, doc_word in CONVERSATIONS:
                session = assistant.chat()
                session.ask(first)
                t0 = time.perf_counter()
                standalone = session.standalone(follow)
                answer = session.ask(follow)
                seconds.append(time.perf_counter() - t0)
                alone = assistant.ask(follow)
                ok, ok_alone = right(answer, expected, doc_word), right(alone, expected, doc_word)
                chat_right += ok
                alone_right += ok_alone
                rows.append([follow, standalone, "yes" if ok else "no", "yes" if ok_alone else "no"])
                if args.verbose:
                    print(f"{follow!r}\n  -> {standalone!r}\n  {answer.answer[:240]!r}")
        print(table(["follow-up", "searched as", "right in chat", "right asked alone"], rows))
        n = len(CONVERSATIONS)
        print(f"follow-ups right in chat: {chat_right}/{n} = {chat_right / n:.2f}; asked alone (no history): "
              f"{alone_right}/{n} = {alone_right / n:.2f}; seconds per follow-up (rewrite + answer) "
              f"mean {sum(seconds) / n:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
