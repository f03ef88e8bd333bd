"""The page's downloads in headless Chromium: an answer as Markdown and a brief as Word, saved by the
browser from POST /export, each quote exactly the document's text."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from rag.server.app import create_app
from tests.export.readback import docx_sources, md_sources
from tests.server.pagekit import NEEDS_BROWSER, by_id, css, wait
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, fake_assistant, running_server

pytestmark = [pytest.mark.e2e, NEEDS_BROWSER]


def downloaded(folder: Path, suffix: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} download in {folder}: {sorted(p.name for p in folder.iterdir())}")


def test_an_answer_and_a_brief_download_as_markdown_and_word(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder = tmp_path / "downloads"
    folder.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    fake = fake_assistant(tmp_path / "index")
    with running_server(create_app(fake)) as base:
        browser.get(base + "/")
        wait(browser, lambda d: "Levy postponed" in by_id(d, "doc-list").text)
        by_id(browser, "question").send_keys("When does the levy start?", Keys.ENTER)
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".turn[data-state=done] .exports button"))
        buttons = css(browser, ".turn .exports button.export")
        assert [b.text for b in buttons] == ["Markdown (.md)", "Word (.docx)"]
        buttons[0].click()
        md = downloaded(folder, ".md")
        assert md.name.startswith("answer-") and md.name.endswith("-when-does-the-levy-start.md")
        text = md.read_text(encoding="utf-8")
        assert text.startswith("# When does the levy start?\n") and f"{SUPPORTED}[^1]" in text
        sources = md_sources(text)
        assert sources and all(s["quote"] == LEVY_TEXT[s["start"]:s["end"]] for s in sources)
        wait(browser, lambda d: "Saved " + md.name in css(d, ".turn .exports")[0].text)

        by_id(browser, "brief-button").click()
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn[data-state=done] .exports")) == 2)
        css(browser, ".turn[data-kind=brief] .exports button[data-format=docx]")[0].click()
        word = downloaded(folder, ".docx")
        assert word.name.startswith("brief-") and word.name.endswith("-brief-all-documents.docx")
        sources = docx_sources(word)
        assert sources and all(s["quote"] == LEVY_TEXT[s["start"]:s["end"]] for s in sources)

        doc_id = sources[0]["doc_id"]
        fake.docs[doc_id] = dataclasses.replace(fake.docs[doc_id], text="The levy was withdrawn.")  # re-ingested
        css(browser, ".turn[data-kind=ask] .exports button[data-format=docx]")[0].click()
        status = wait(browser, lambda d: "Could not export" in (t := css(d, ".turn .exports")[0].text) and t)
        assert "changed since" in status
