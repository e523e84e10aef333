"""A real headless Chromium for the browser tests, driven through Selenium.

Needs Chromium (or Chrome) and its driver (.ci/run installs Debian's where missing). Outside
CI a machine without them skips the browser tests and says why; in CI they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

# Debian's chromium here; Google Chrome on GitHub's Ubuntu runners.
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")


def start_chromium(profile: Path) -> WebDriver:
    """A headless Chromium with a fresh profile in ``profile``; skips (fails in CI) without one."""
    if not (CHROMIUM and CHROMEDRIVER):
        message = "Debian packages chromium and chromium-driver are needed for the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1280,2000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver
