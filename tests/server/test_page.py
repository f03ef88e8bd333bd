"""The web page in headless Chromium (selenium): ask, watch the answer stream in, open a citation
and see its quote highlighted in context; the key prompt; uploads; desktop and phone widths; /docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.server.app import create_app
from tests.server.pagekit import NEEDS_BROWSER, SHOTS, by_id, css, wait
from tests.server_fixtures import LEVY_TEXT, SUPPORTED, fake_assistant, running_server

pytestmark = [pytest.mark.e2e, NEEDS_BROWSER]


def test_ask_stream_and_open_a_citation_in_context(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    fake = fake_assistant(tmp_path / "index")
    fake.token_delay = 0.4
    with running_server(create_app(fake)) as base:
        browser.get(base + "/")
        wait(browser, lambda d: "Levy postponed" in by_id(d, "doc-list").text)
        assert by_id(browser, "index-status").text == "2 documents · 4 passages"
        box = by_id(browser, "question")
        box.send_keys("When does the levy start?", Keys.ENTER)  # Enter submits
        draft = wait(browser, lambda d: css(d, ".turn .draft"))[0]
        drafts = wait(browser, lambda d: draft.is_displayed() and draft.text)
        assert drafts.startswith("The levy") and "the change." not in drafts  # still streaming
        body = css(browser, ".turn .answer-body")[0]
        wait(browser, lambda d: not draft.is_displayed() and body.text)
        assert SUPPORTED in body.text and "(not verified)" in body.text
        assert css(browser, ".turn .turn-question")[0].text == "When does the levy start?"
        assert by_id(browser, "question").get_attribute("value") == ""  # the box is ready for a follow-up
        footnote = browser.find_element(By.CSS_SELECTOR, ".turn .footnotes li")
        assert "Levy postponed" in footnote.text and "The Coastal Flood-Defence Levy" in footnote.text
        browser.save_screenshot(str(SHOTS / "rag-page-answer-desktop.png"))

        browser.find_element(By.CSS_SELECTOR, "button.cite").click()
        mark = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#viewer-text mark"))[0]
        quote = "The Coastal Flood-Defence Levy will take effect on 1 January 2027."
        assert mark.text == quote
        context = by_id(browser, "viewer-text").text
        assert "Ministry statement" in context and "Harbour owners asked for more time" in context
        assert context.replace("…", "").strip() == LEVY_TEXT.strip()
        assert browser.switch_to.active_element == by_id(browser, "viewer-title")  # focus moved to the source
        assert "warning" not in by_id(browser, "viewer-meta").text
        browser.save_screenshot(str(SHOTS / "rag-page-citation-desktop.png"))
        browser.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait(browser, lambda d: not by_id(d, "viewer").is_displayed())
        assert "cite" in browser.switch_to.active_element.get_attribute("class")  # focus back on the [1]

        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # a phone
                                {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        browser.find_element(By.CSS_SELECTOR, ".footnotes button").click()
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#viewer-text mark"))
        inner, scroll = browser.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        assert inner == 390 and scroll <= inner, f"page scrolls sideways on a phone ({scroll}px)"
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(SHOTS / "rag-page-phone.png"))


def test_key_prompt_upload_and_errors(browser, tmp_path):
    from selenium.webdriver.common.by import By

    fake = fake_assistant(tmp_path / "index", api_key="page-key")
    note = tmp_path / "pilots-note.txt"
    note.write_text("The pilots accepted the tide schedule.\n", encoding="utf-8")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"not a pdf")
    with running_server(create_app(fake)) as base:
        browser.get(base + "/")
        key = wait(browser, lambda d: by_id(d, "api-key").is_displayed() and by_id(d, "api-key"))
        assert browser.switch_to.active_element == key
        key.send_keys("page-key")
        browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
        wait(browser, lambda d: "Levy postponed" in by_id(d, "doc-list").text)
        assert browser.execute_script("return sessionStorage.getItem('briefing-rag-api-key')") == "page-key"

        by_id(browser, "file").send_keys(str(note))
        browser.find_element(By.CSS_SELECTOR, "#upload-form button").click()
        wait(browser, lambda d: "Added" in by_id(d, "upload-status").text)
        wait(browser, lambda d: "Pilots Note" in by_id(d, "doc-list").text)
        assert (fake.settings.index_dir / "uploads" / "pilots-note.txt").exists()

        by_id(browser, "file").send_keys(str(bad))
        browser.find_element(By.CSS_SELECTOR, "#upload-form button").click()
        wait(browser, lambda d: "Not added" in by_id(d, "upload-status").text)
        assert "not a PDF" in by_id(browser, "upload-status").text

        fake.fail_after_tokens = True
        by_id(browser, "question").send_keys("When?")
        by_id(browser, "ask-button").click()
        error = wait(browser, lambda d: by_id(d, "error").is_displayed() and by_id(d, "error"))
        assert "out of memory" in error.text


def test_citation_highlight_matches_real_offsets(browser, tmp_path):
    """The real pipeline (store, retrieval, citation check) over examples/, with stand-in models."""
    import json

    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from rag import Assistant, Settings
    from tests.fakes import HashingEmbedder, ScriptedGenerator

    examples = Path(__file__).resolve().parents[2] / "examples"
    if not any(examples.glob("*.txt")):
        pytest.skip("examples/ has no documents yet")
    reply = "The Coastal Flood-Defence Levy will take effect on 1 January 2027 [1]."
    assistant = Assistant(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder(),
                          generator=ScriptedGenerator([reply]))
    assistant.ingest([examples])
    with running_server(create_app(assistant)) as base:
        expected = httpx.post(f"{base}/ask", json={"question": "When does the coastal levy take effect?"}).json()
        assert expected["citations"]
        browser.get(base + "/")
        by_id(browser, "question").send_keys("When does the coastal levy take effect?", Keys.ENTER)
        buttons = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".footnotes button"))
        for n, button in enumerate(buttons, 1):
            button.click()
            citation = next(c for c in expected["citations"] if c["n"] == n)
            wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#viewer-text mark")
                 and d.find_element(By.ID, "viewer-meta").text.startswith(f"Source {n}"))
            mark = browser.find_element(By.CSS_SELECTOR, "#viewer-text mark")
            shown = browser.execute_script("return arguments[0].textContent", mark)
            assert shown == citation["quote"], json.dumps(citation)
            assert "warning" not in by_id(browser, "viewer-meta").text
        browser.save_screenshot(str(SHOTS / "rag-page-real-citation.png"))
    assistant.close()


def test_api_docs_render_the_operations_offline(browser, tmp_path):
    """/docs draws FastAPI's OpenAPI 3.1 schema from the packaged Swagger UI, with no network."""
    from selenium.webdriver.common.by import By

    with running_server(create_app(fake_assistant(tmp_path / "index"))) as base:
        browser.get(base + "/docs")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
        paths = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary-path")]
        assert "/ask" in paths and "/v1/chat/completions" in paths
        assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")
        scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(Boolean)")
        assert scripts and all(s.startswith(base) for s in scripts)
        browser.save_screenshot(str(SHOTS / "rag-docs.png"))
