"""The page as a conversation in headless Chromium: follow-ups sent with the earlier turns, and
Summarise / Brief over the ticked documents, each citation opening its quote in context."""

from __future__ import annotations

import pytest

from rag.server.app import create_app
from tests.server.pagekit import NEEDS_BROWSER, SHOTS, by_id, css, wait
from tests.server_fixtures import SUPPORTED, UNSUPPORTED, fake_assistant, running_server

pytestmark = [pytest.mark.e2e, NEEDS_BROWSER]
QUOTE = "The Coastal Flood-Defence Levy will take effect on 1 January 2027."


def answered(driver) -> list:
    return [t for t in css(driver, ".turn") if t.get_attribute("data-state") == "done"]


def open_first_citation(browser, turn) -> str:
    """Click the turn's first [n] and return the highlighted quote once the source shows it."""
    from selenium.webdriver.common.by import By

    turn.find_element(By.CSS_SELECTOR, "button.cite").click()
    mark = wait(browser, lambda d: css(d, "#viewer-text mark"))[0]
    assert by_id(browser, "viewer-title").text == "Levy postponed"
    return mark.text


def test_a_follow_up_carries_the_earlier_turn_and_both_turns_stay(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    fake = fake_assistant(tmp_path / "index")
    with running_server(create_app(fake)) as base:
        browser.get(base + "/")
        wait(browser, lambda d: "Levy postponed" in by_id(d, "doc-list").text)
        by_id(browser, "question").send_keys("When does the levy start?", Keys.ENTER)
        wait(browser, lambda d: len(answered(d)) == 1)
        by_id(browser, "question").send_keys("Who asked for more time?", Keys.ENTER)
        wait(browser, lambda d: len(answered(d)) == 2)
        turns = answered(browser)
        assert [t.text.split("\n")[0] for t in turns] == ["When does the levy start?", "Who asked for more time?"]
        assert all(SUPPORTED in t.text for t in turns)
        assert fake.histories[0] == []
        assert fake.sessions == [[{"role": "user", "content": "When does the levy start?"},
                                  {"role": "assistant", "content": SUPPORTED}]]  # verified text only
        assert UNSUPPORTED not in str(fake.sessions)
        assert open_first_citation(browser, turns[1]) == QUOTE
        browser.save_screenshot(str(SHOTS / "rag-page-chat.png"))

        by_id(browser, "new-chat").click()
        assert not css(browser, ".turn")
        by_id(browser, "question").send_keys("When does the levy start?", Keys.ENTER)
        wait(browser, lambda d: len(answered(d)) == 1)
        assert fake.histories[-1] == [] and len(fake.sessions) == 1  # a new conversation starts afresh


def test_summarise_and_brief_the_ticked_documents(browser, tmp_path):
    fake = fake_assistant(tmp_path / "index")
    levy = next(d.doc_id for d in fake.docs.values() if d.title == "Levy postponed")
    with running_server(create_app(fake)) as base:
        browser.get(base + "/")
        box = wait(browser, lambda d: css(d, f'#doc-list input[value="{levy}"]'))[0]
        assert "all documents" in by_id(browser, "scope").text.lower()
        box.click()
        assert "1 document" in by_id(browser, "scope").text

        by_id(browser, "summarize-button").click()
        wait(browser, lambda d: len(answered(d)) == 1)
        summary = answered(browser)[0]
        assert summary.get_attribute("data-kind") == "summary" and SUPPORTED in summary.text
        assert "Levy postponed" in summary.text.split("\n")[0]
        assert fake.covered == [("summarize", [levy])]
        assert open_first_citation(browser, summary) == QUOTE

        by_id(browser, "brief-button").click()
        wait(browser, lambda d: len(answered(d)) == 2)
        brief = answered(browser)[1]
        assert brief.get_attribute("data-kind") == "brief"
        for heading in ("Key points", "Actors", "Open questions"):
            assert heading in brief.text
        assert "Ministry" in brief.text and "regulator" in brief.text and "Will harbours be ready?" in brief.text
        assert fake.covered[-1] == ("brief", [levy])
        assert open_first_citation(browser, brief) == QUOTE
        browser.save_screenshot(str(SHOTS / "rag-page-brief.png"))

        box.click()  # none ticked: the whole corpus
        by_id(browser, "summarize-button").click()
        wait(browser, lambda d: len(answered(d)) == 3)
        assert fake.covered[-1] == ("summarize", [])
