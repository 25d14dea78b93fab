"""A real browser for the dashboard's tests: Debian's headless Chromium driven by Selenium.

scripts/browser-setup installs chromium and chromium-driver (scripts/test runs it); without
them these tests fail under CI=true and skip locally saying so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.plugins import unavailable


@pytest.fixture
def browser() -> Iterator[Callable[..., object]]:
    """``browser(width, height)``: a new headless Chromium window; every one is closed after the test."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        unavailable("Chromium and its WebDriver are not installed here: run scripts/browser-setup (root, apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opened: list[webdriver.Chrome] = []

    def open_window(width: int = 1280, height: int = 860) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", f"--window-size={width},{height}"):
            options.add_argument(argument)
        window = webdriver.Chrome(service=Service(driver), options=options)
        opened.append(window)
        window.set_window_size(width, height)
        return window

    yield open_window
    for window in opened:
        window.quit()
