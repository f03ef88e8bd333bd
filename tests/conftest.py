from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A private copy of examples/ that a test may change."""
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("README.md"))
    return dest


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small folder of text briefings with distinct topics and dates."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "levy.md").write_text(
        "# Coastal levy update\n\nDate: 2026-03-02\n\nThe coastal flood levy will take effect on 1 January 2027, "
        "the finance ministry said. The levy is 0.8% of assessed property value.\n\n"
        "## Exemptions\n\nFarmers with fewer than 40 hectares are exempt from the levy.\n")
    (folder / "storage.txt").write_text(
        "Grid storage memo\n\n14 January 2026\n\nThe energy ministry set a target of 2.4 GWh of grid battery "
        "storage by 2030. Critics say lithium supply chains are fragile.\n")
    (folder / "ports.txt").write_text(
        "Port authority note\n\n2025-11-20\n\nThe port of Kessel will deepen its channel to 16 metres. Dredging "
        "starts in spring and costs 120 million.\n")
    return folder
