"""A web app in a real browser calling the API from another origin.

Headless Chromium (tests/chromium.py: skipped with the reason where missing,
failing in CI) loads a page served on one port and calls the API, behind the
local stand-in of the Functions host, on another: a cross-origin app as in
production (admin.example.org calling api.example.org). The API's CORS_ORIGINS
names the page's origin, the one setting that feeds the host's siteConfig.cors
and the app; a second page on a port not named is refused.

Each scenario drives the page through :class:`Page`: the headers a script may
read, and browser sessions: a sign-in with the refresh token in the cookie, a
reload, a refresh by the cookie and a sign-out, the attributes the browser
kept (read through DevTools), and the CSRF rule as a browser meets it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

import pytest

from devtools.local_server import LocalFunctionsServer, serve_in_thread, site_cors
from tests.support.accounts import Account
from tests.support.chromium import start_chromium
from tests.support.network import served_at
from tests.support.refresh_cookie import COOKIE_NAME, FROM_A_SCRIPT
from tests.support.settings import settings_changed

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.slow

# The page's whole script: fetch with the browser's credentials (cookies), and
# report what a script may see of the answer (only the headers it is allowed to read).
PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>A web app of another origin</title>
<script>
window.callApi = async (url, init) => {
  try {
    const response = await fetch(url, {credentials: "include", ...init});
    return {status: response.status, headers: Object.fromEntries(response.headers), body: await response.text()};
  } catch (error) {
    return {error: String(error)};
  }
};
</script>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


@dataclass(frozen=True)
class Answer:
    """What the page's script saw: the status, the headers it may read, the body; or the fetch error."""

    status: int | None
    headers: dict[str, str]
    body: str
    error: str | None

    def json(self) -> Any:
        return json.loads(self.body)


class Page:
    """The test page loaded from ``origin`` in the browser, calling the API at ``api``."""

    def __init__(self, driver: WebDriver, origin: str, api: str) -> None:
        self.driver = driver
        self.origin = origin
        self.api = api

    def open(self) -> Page:
        self.driver.get(f"{self.origin}/")
        return self

    def fetch(self, path: str, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None) -> Answer:
        init: dict[str, Any] = {"method": method, "headers": dict(headers or {})}
        if body is not None:
            init["headers"]["Content-Type"] = "application/json"
            init["body"] = json.dumps(body)
        script = "const [url, init, done] = arguments; window.callApi(url, init).then(done);"
        seen = cast(dict[str, Any], self.driver.execute_async_script(script, f"{self.api}{path}", init))
        return Answer(seen.get("status"), seen.get("headers", {}), seen.get("body", ""), seen.get("error"))


def _serve_page() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="test-page", daemon=True).start()
    return server


@pytest.fixture(scope="module")
def page_servers() -> Iterator[tuple[str, str]]:
    """Two pages on ports of their own: the web app's origin and one the API does not name."""
    servers = [_serve_page(), _serve_page()]
    yield served_at(servers[0]), served_at(servers[1])
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api(local_server: Any, page_servers: tuple[str, str]) -> Iterator[str]:
    """The app behind the host's stand-in, with CORS_ORIGINS naming the web app's origin.

    The browser's every request comes from 127.0.0.1: as a trusted network its
    sign-in limit counts per (address, account), so a scenario that provokes a
    429 for its own account leaves every other scenario's budget alone.
    """
    app_origin, _ = page_servers
    with settings_changed(CORS_ORIGINS=app_origin, RATE_LIMIT_TRUSTED_NETWORKS="127.0.0.1/32"):
        server = LocalFunctionsServer(("127.0.0.1", 0), local_server.router, site_cors())
        serve_in_thread(server)
        yield served_at(server)
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def web_app(browser: WebDriver, page_servers: tuple[str, str], api: str) -> Page:
    return Page(browser, page_servers[0], api).open()


@pytest.fixture
def other_site(browser: WebDriver, page_servers: tuple[str, str], api: str) -> Page:
    return Page(browser, page_servers[1], api).open()


def test_a_web_app_reads_the_request_id_after_a_preflight(web_app: Page) -> None:
    # A header of its own makes the browser ask first (a preflight).
    answer = web_app.fetch("/api", headers={"X-Request-ID": "browser-trace-1"})
    assert answer.error is None and answer.status == 200
    assert answer.headers["x-request-id"] == "browser-trace-1"
    assert "x-content-type-options" not in answer.headers  # what the product does not expose stays hidden


def test_a_web_app_reads_www_authenticate_of_a_401(web_app: Page) -> None:
    answer = web_app.fetch("/api/v1/users/me", headers={"Authorization": "Bearer not-a-token"})
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"]["request_id"] == answer.headers["x-request-id"]


def test_a_web_app_reads_retry_after_when_bad_sign_ins_hit_the_limit(web_app: Page) -> None:
    credentials = {"email": f"browser-{uuid.uuid4().hex[:12]}@example.org", "password": "Not-the-password-1"}
    answers = [web_app.fetch("/api/v1/auth/login", "POST", body=credentials) for _ in range(6)]
    assert [answer.status for answer in answers] == [401] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert answers[-1].json()["error"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("GET", {"X-Request-ID": "from-elsewhere"}), ("POST", {"Content-Type": "application/json"})],
)
def test_a_page_of_an_origin_not_named_is_refused(other_site: Page, method: str, headers: dict[str, str]) -> None:
    answer = other_site.fetch("/api", method, headers=headers)
    assert answer.status is None and answer.error is not None and "Failed to fetch" in answer.error


# -- browser sessions: the refresh token in a cookie no script can read --------------------------


def _refresh_cookies(driver: WebDriver) -> list[dict[str, Any]]:
    """The refresh cookies the browser holds, with the attributes it stored (through DevTools)."""
    everything = cast(dict[str, Any], driver.execute_cdp_cmd("Network.getAllCookies", {}))
    return [cookie for cookie in everything["cookies"] if cookie["name"] == COOKIE_NAME]


def _sign_in_with_the_cookie(web_app: Page, account: Account) -> Answer:
    body = {"email": account.email, "password": account.password, "refresh_token_transport": "cookie"}
    signed_in = web_app.fetch("/api/v1/auth/login", "POST", body=body)
    assert signed_in.status == 200, signed_in
    return signed_in


def test_a_web_app_signs_in_with_the_cookie_reloads_refreshes_and_signs_out(
    web_app: Page, account: Account, browser: WebDriver
) -> None:
    signed_in = _sign_in_with_the_cookie(web_app, account)
    assert "refresh_token" not in signed_in.json() and signed_in.json()["access_token"]
    [kept] = _refresh_cookies(browser)
    assert (kept["httpOnly"], kept["secure"], kept["sameSite"], kept["path"]) == (True, True, "Strict", "/api/v1/auth")
    assert kept["expires"] > time.time() + 6 * 86400, "until the session's absolute end"
    assert browser.execute_script("return document.cookie") == "", "no script reads it"

    web_app.open()  # a reload: the page's memory is gone, the cookie is not
    refreshed = web_app.fetch("/api/v1/auth/refresh", "POST", headers=FROM_A_SCRIPT)
    assert refreshed.status == 200, refreshed
    assert refreshed.headers["x-request-id"] and "refresh_token" not in refreshed.json()
    [rotated] = _refresh_cookies(browser)
    assert rotated["value"] != kept["value"], "the refresh rotated the cookie"
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    me = web_app.fetch("/api/v1/users/me", headers=bearer)
    assert me.status == 200 and me.json()["email"] == account.email

    signed_out = web_app.fetch("/api/v1/auth/logout", "POST", headers=FROM_A_SCRIPT)
    assert signed_out.status == 204, signed_out
    assert _refresh_cookies(browser) == [], "the sign-out cleared the cookie"
    assert web_app.fetch("/api/v1/users/me", headers=bearer).json()["error"]["code"] == "SESSION_ENDED"
    after = web_app.fetch("/api/v1/auth/refresh", "POST", headers=FROM_A_SCRIPT)
    assert after.status == 401 and after.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_a_request_the_cookie_would_authenticate_needs_a_script_of_an_allowed_origin(
    web_app: Page, other_site: Page, account: Account, browser: WebDriver
) -> None:
    _sign_in_with_the_cookie(web_app.open(), account)  # one browser: each page is opened before it acts
    [kept] = _refresh_cookies(browser)
    # Without the header a POST needs no preflight, and the browser sends the cookie: the API refuses it.
    plain = web_app.fetch("/api/v1/auth/refresh", "POST")
    assert plain.status == 403 and plain.json()["error"]["code"] == "CSRF_CHECK_FAILED"
    # A page of an origin CORS_ORIGINS does not name: with the header, the preflight fails and nothing is sent;
    # without it, the request goes (with the cookie: same site) and is refused, and the page reads nothing.
    other_site.open()
    for headers in (FROM_A_SCRIPT, {}):
        for route in ("refresh", "logout"):
            answer = other_site.fetch(f"/api/v1/auth/{route}", "POST", headers=headers)
            assert answer.status is None and "Failed to fetch" in (answer.error or "")
    assert _refresh_cookies(browser)[0]["value"] == kept["value"], "nothing rotated, nothing cleared"
    assert web_app.open().fetch("/api/v1/auth/logout", "POST", headers=FROM_A_SCRIPT).status == 204
