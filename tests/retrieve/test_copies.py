"""Near-copies of a hit (syndicated articles) are folded into it and listed, not shown as more hits."""

from __future__ import annotations

from pathlib import Path

from rag.assistant import Assistant
from rag.config import Settings
from tests.fakes import HashingEmbedder

STORY = ("The port of Kessel will deepen its channel to 16 metres, the harbour board said on Monday. "
         "Dredging starts in spring and costs 120 million euros, paid by the regional fund.")


def test_syndicated_copies_are_listed_on_the_first_hit(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("wire", "paper-a", "paper-b"):
        (docs / f"{name}.txt").write_text(f"Kessel channel to be deepened\n\n{STORY}\n")
    (docs / "other.txt").write_text("Grid storage\n\nThe energy ministry set a storage target of 2.4 GWh by 2030.\n")
    settings = Settings.from_env({}, index_dir=tmp_path / "index", rerank=False)
    with Assistant(settings, embedder=HashingEmbedder(dim=256)) as assistant:
        assistant.ingest([docs])
        hits = assistant.search("How deep will the Kessel channel be dredged?", k=3)
    kessel = [h for h in hits if "Kessel" in h.chunk.text]
    assert len(kessel) == 1, [h.path for h in hits]  # one story, not three copies of it
    listed = {Path(c.path).name for c in kessel[0].copies}
    assert listed == {"wire.txt", "paper-a.txt", "paper-b.txt"} - {Path(kessel[0].path).name}
    assert all(c.doc_id != kessel[0].doc_id for c in kessel[0].copies)
