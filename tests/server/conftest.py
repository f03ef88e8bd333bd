"""The browser fixture of the page tests."""

from __future__ import annotations

import pytest

from tests.server.pagekit import start_browser


@pytest.fixture
def browser(tmp_path):
    driver = start_browser(tmp_path / "chrome-profile")
    yield driver
    driver.quit()
