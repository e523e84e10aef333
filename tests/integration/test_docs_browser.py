"""/docs and /redoc in a real headless Chromium, with no asset from outside this app.

Chromium and its driver: tests/chromium.py (skipped with the reason where missing, failing in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import httpx
import pytest

from tests.support.chromium import start_chromium

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    # Record what the page's Content-Security-Policy blocked, from the first script on.
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "window.__blocked = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__blocked.push(e.blockedURI));"
        },
    )
    yield driver
    driver.quit()


def _wait(driver: WebDriver, css: str, timeout: float = 30) -> list[WebElement]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
    return driver.find_elements(By.CSS_SELECTOR, css)


def _only_local_resources(driver: WebDriver, base_url: str) -> None:
    """Every asset came from this app; anything else was blocked by our CSP, never fetched."""
    # execute_script returns whatever the script did, typed Any: both scripts return arrays of URLs.
    urls = cast(list[str], driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"))
    blocked = cast(list[str], driver.execute_script("return window.__blocked"))
    assert urls, "the page loaded its assets"
    outside = [url for url in urls if not url.startswith(base_url)]
    assert sorted(outside) == sorted(blocked), f"fetched from outside the app: {set(outside) - set(blocked)}"


def test_swagger_ui_renders_every_tag_from_local_assets(browser: WebDriver, base_url: str) -> None:
    tags = {tag["name"] for tag in httpx.get(f"{base_url}/openapi.json").json()["tags"]}
    browser.get(f"{base_url}/docs")
    _wait(browser, ".opblock-tag")
    rendered = {element.get_attribute("data-tag") for element in _wait(browser, ".opblock-tag")}
    assert rendered == tags
    _only_local_resources(browser, base_url)


def test_swagger_try_it_out_on_health_shows_200(browser: WebDriver, base_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base_url}/docs#/platform/health")
    operation = _wait(browser, "#operations-platform-health")[0]
    classes = operation.get_attribute("class")
    assert classes is not None, "Swagger UI's operation block has a class attribute"
    if "is-open" not in classes:
        operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    _wait(browser, "#operations-platform-health .try-out__btn")[0].click()
    _wait(browser, "#operations-platform-health .execute")[0].click()
    status = "#operations-platform-health .live-responses-table .response-col_status"
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, status))
    cells = [element.text.strip() for element in browser.find_elements(By.CSS_SELECTOR, status)]
    codes = [cell for cell in cells if cell.isdigit()]
    browser.save_screenshot(str(tmp_path / "docs-try-it-out.png"))
    assert codes and codes[0].startswith("200"), codes


def test_redoc_renders_from_local_assets(browser: WebDriver, base_url: str) -> None:
    browser.get(f"{base_url}/redoc")
    heading = _wait(browser, "h1", timeout=60)[0]
    assert "Augeo Platform API" in heading.text
    menu = " ".join(element.text for element in _wait(browser, "[role=menuitem], li[data-item-id]"))
    assert "Service and dependency health" in menu or "platform" in menu.lower()
    _only_local_resources(browser, base_url)
