"""The TypeScript client (clients/typescript) in headless Chromium against this API over real HTTP.

A page that bundles the client (esbuild, e2e/page.ts) is served from its own origin,
http://localhost:<port>, and calls the API on another, http://localhost:<port>, which
allows that origin as CORS_ORIGINS would in Azure. The test drives the page's harness
through selenium: sign in, the two-step second factor, a protected fetch, refreshes,
sign-out, several tabs.

Both transports: memory (a tab's own session, gone with a reload) and cookie (the
refresh token in the API's HttpOnly cookie: a reload is still signed in, two tabs refresh
together twenty times and the session lives, a sign-out in one tab reaches the other).

Needs node and npm (tests/node_tools.py) and Chromium (tests/chromium.py).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import pyotp
import pytest

from tests.support.accounts import PASSWORD, Account, Actor, enrol_second_factor
from tests.support.chromium import start_chromium
from tests.support.concurrency import wait_until
from tests.support.node_tools import client_package, run
from tests.support.settings import settings_changed

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.slow

INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>Augeo auth client</title></head>
<body><script type="module" src="/page.js"></script></body></html>
"""

# Calls window.harness[name](...args) and hands its outcome back to selenium.
CALL_HARNESS = """
const args = Array.from(arguments);
const done = args.pop();
const [name, ...rest] = args;
const thrown = (error) => done({ok: false, status: -1, code: "THROWN", message: String(error)});
window.harness[name](...rest).then(done, thrown);
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """The page's requests are not the test's output."""


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, bundled with the client, served from an origin of its own."""
    package = client_package()
    folder = tmp_path_factory.mktemp("web-client-page")
    esbuild = str(package / "node_modules" / ".bin" / "esbuild")  # a script or the native binary: both run
    bundle = f"--outfile={folder / 'page.js'}"
    run([esbuild, "e2e/page.ts", "--bundle", "--format=esm", "--platform=browser", "--target=es2022", bundle])
    (folder / "index.html").write_text(INDEX)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, name="web-client-page", daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api_url(local_server: Any, page_origin: str) -> Iterator[str]:
    """The app on a port of its own, with the page's origin among CORS_ORIGINS.

    The browser's every request comes from 127.0.0.1: as a trusted network its
    sign-in limit counts per (address, account), so no scenario spends another's.
    """
    from devtools.local_server import LocalFunctionsServer, serve_in_thread, site_cors

    origins = ",".join(filter(None, [os.environ.get("CORS_ORIGINS"), page_origin]))
    with settings_changed(CORS_ORIGINS=origins, RATE_LIMIT_TRUSTED_NETWORKS="127.0.0.1/32"):
        server = LocalFunctionsServer(("127.0.0.1", 0), local_server.router, site_cors())
        serve_in_thread(server)
        yield f"http://localhost:{server.server_address[1]}"
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A fresh browser (profile, cookies) per test."""
    driver = start_chromium(tmp_path / "chromium-profile")
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


class Page:
    """One tab of the page: calls its harness and reads the outcome."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        if driver.current_url not in ("about:blank", "data:,"):
            driver.switch_to.new_window("tab")
        self.handle = driver.current_window_handle
        driver.get(url)
        self._wait_until_ready()

    def call(self, name: str, *args: Any) -> dict[str, Any]:
        self.driver.switch_to.window(self.handle)
        outcome: dict[str, Any] = self.driver.execute_async_script(CALL_HARNESS, name, *args)
        return outcome

    def ok(self, name: str, *args: Any) -> Any:
        """The value of a harness call that must succeed."""
        outcome = self.call(name, *args)
        assert outcome["ok"], f"{name}{args}: {outcome}"
        return outcome["value"]

    def reload(self) -> None:
        self.driver.switch_to.window(self.handle)
        self.driver.refresh()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.body?.dataset.ready"))


@pytest.fixture
def open_page(browser: WebDriver, page_origin: str, api_url: str) -> Callable[[str], Page]:
    """``open_page("memory")``: a new tab of the page with that transport."""

    def open_tab(transport: str) -> Page:
        return Page(browser, f"{page_origin}/?{urlencode({'api': api_url, 'transport': transport})}")

    return open_tab


def _rejected(api_url: str, access_token: str) -> bool:
    response = httpx.get(f"{api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code == 401


def _second_factor_in_two_steps(page: Page, email: str, totp: pyotp.TOTP) -> None:
    """Password, a wrong code (refused, the step still open), then the next step's code."""
    assert page.ok("signIn", email, PASSWORD) == {"status": "mfa_required", "methods": ["totp", "recovery_code"]}
    assert page.ok("token") is None, "no session before the second step"
    now = time.time()
    valid_now = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in (f"{n:06d}" for n in range(10)) if code not in valid_now)
    refused = page.call("verify", wrong)
    assert (refused["ok"], refused["status"], refused["code"]) == (False, 401, "INVALID_MFA_CODE")
    # The enrolment spent this step's code; the next step's is within the accepted drift.
    assert page.ok("verify", totp.at(now + 30)) == {"status": "authenticated", "email": email}
    me = page.ok("me")
    assert me["status"] == 200 and me["body"]["mfa_enabled"] is True


# -- memory transport -----------------------------------------------------------


def test_memory_transport_signs_in_fetches_refreshes_and_signs_out(
    open_page: Callable[[str], Page], account: Account, api_url: str
) -> None:
    first = open_page("memory")
    assert first.ok("token") is None
    assert first.ok("signIn", account.email, account.password) == {"status": "authenticated", "email": account.email}
    me = first.ok("me")
    assert me["status"] == 200 and me["body"]["email"] == account.email

    tokens = first.ok("refresh", 20)
    assert None not in tokens and len(set(tokens)) == 20, "each refresh answered a new access token"
    assert first.ok("me")["status"] == 200

    second = open_page("memory")
    assert second.ok("token") is None, "memory transport: a tab does not share another tab's session"
    assert second.ok("signIn", account.email, account.password)["status"] == "authenticated"

    signed_out_token = first.ok("token")
    first.ok("signOut")
    assert first.ok("token") is None
    assert first.ok("me")["status"] == 401
    assert _rejected(api_url, signed_out_token), "the server ended the session"
    assert second.ok("me")["status"] == 200, "the other tab's own session lives on"
    assert first.ok("ended") == [] and second.ok("ended") == []

    second.reload()
    assert second.ok("token") is None, "memory transport: a reload signs out"


def test_memory_transport_second_factor_in_two_steps(
    open_page: Callable[[str], Page], signed_in: Callable[..., Actor]
) -> None:
    actor = signed_in("donor")
    totp = pyotp.TOTP(enrol_second_factor(actor).secret)
    _second_factor_in_two_steps(open_page("memory"), actor.account.email, totp)


# -- cookie transport -----------------------------------------------------------


def test_cookie_transport_survives_a_reload_shares_tabs_and_signs_out_everywhere(
    open_page: Callable[[str], Page], account: Account, api_url: str
) -> None:
    first = open_page("cookie")
    assert first.ok("token") is None, "no cookie yet: signed out"
    assert first.ok("signIn", account.email, account.password) == {"status": "authenticated", "email": account.email}

    first.reload()
    assert first.ok("token"), "the cookie restored the session after a reload"
    assert first.ok("me")["status"] == 200

    second = open_page("cookie")
    assert second.ok("token"), "a new tab has the same session"
    for page in (first, second):
        page.ok("startRefreshing", 20)
    for page in (first, second):
        assert None not in page.ok("finish"), "every refresh of both tabs got a token"
    for page in (first, second):
        assert page.ok("me")["status"] == 200, "the session is alive after 20 rounds of racing refreshes"
        assert page.ok("ended") == []

    signed_out_token = second.ok("token")
    second.ok("signOut")
    wait_until(lambda: first.ok("ended") == ["SIGNED_OUT"], "the other tab's onSessionEnded")
    assert second.ok("ended") == [], "the tab that signed out was not told"
    assert first.ok("token") is None
    assert _rejected(api_url, signed_out_token)
    first.reload()
    assert first.ok("token") is None, "the cookie is gone"


def test_cookie_transport_second_factor_in_two_steps(
    open_page: Callable[[str], Page], signed_in: Callable[..., Actor]
) -> None:
    actor = signed_in("donor")
    totp = pyotp.TOTP(enrol_second_factor(actor).secret)
    page = open_page("cookie")
    _second_factor_in_two_steps(page, actor.account.email, totp)
    page.reload()
    assert page.ok("token"), "signed in with the second factor, the cookie survives a reload"
