"""The cookie transport of refresh tokens: the cookie, and the CSRF rule of a request it authenticates.

A web app that signs in with ``refresh_token_transport: "cookie"`` never sees
its refresh token: the browser keeps it in an HttpOnly cookie scoped to the
auth routes and sends it on refresh and logout. A cookie goes along whoever
makes the browser send the request, so a request the cookie authenticates
must also show that a script of an allowed origin sent it (the CSRF rule):

- the header ``X-Requested-With: fetch``. A page can send a header of its own
  across origins only after a preflight, which the Functions host answers for
  the origins of CORS_ORIGINS alone; a form or a plain link cannot send one;
- when the browser sends ``Origin``, an origin of CORS_ORIGINS or the API's
  own. ``Origin: null`` (a sandboxed frame, a redirect across sites) is none
  of them. ``*`` in CORS_ORIGINS allows no origin here.

The API's own origin is the one the request was addressed to, as the
Functions host presents it: the scheme and host of the request's URL, and,
where a proxy in front forwarded them, ``X-Forwarded-Proto`` with
``X-Forwarded-Host`` (else ``Host``). A browser cannot set those headers
across origins without the preflight above, so they give nothing away.

A body token never needs any of this: a script that holds the token is the
client itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import AuthorizationError, ErrorCode

logger = logging.getLogger("augeo.http")

REQUESTED_WITH = "fetch"
# What reading the refresh token from the cookie can refuse (CookieRequest.token): a request
# that fails the CSRF rule. A route that takes the cookie answers it (shared.http.endpoint).
COOKIE_REFUSALS = (ErrorCode.CSRF_CHECK_FAILED,)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_ANY_ORIGIN = "*"


@dataclass(frozen=True)
class RefreshCookie:
    """The cookie as this service sets it: REFRESH_COOKIE_NAME, on the path of the routes that read it."""

    name: str
    path: str

    def issued(self, token: str, max_age: int) -> str:
        """The ``Set-Cookie`` value that hands the browser ``token`` until the session's absolute end."""
        return f"{self.name}={token}; {self._attributes()}; Max-Age={max(0, max_age)}"

    def cleared(self) -> str:
        """The ``Set-Cookie`` value that makes the browser forget the cookie (same name and path)."""
        return f"{self.name}=; {self._attributes()}; Max-Age=0"

    def _attributes(self) -> str:
        return f"HttpOnly; Secure; SameSite=Strict; Path={self.path}"


@dataclass(frozen=True)
class CookieRequest:
    """What a request sent that the cookie transport reads: the cookie, and what the CSRF rule checks.

    ``values``: every cookie of the name the request carries. A browser sends
    two when a sibling site of the same registrable domain set one of its own
    (a ``Domain`` cookie); neither is trusted then.
    """

    values: tuple[str, ...]
    requested_with: str | None
    origin: str | None
    allowed_origins: frozenset[str]

    @classmethod
    def of(cls, headers: Mapping[str, str], url: str, settings: Settings) -> CookieRequest:
        """From the request's (lower-cased) headers and URL."""
        allowed = {_normalized(origin) for origin in settings.cors_origins if origin != _ANY_ORIGIN}
        return cls(
            values=cookie_values(headers.get("cookie", ""), settings.refresh_cookie_name),
            requested_with=headers.get("x-requested-with"),
            origin=headers.get("origin"),
            allowed_origins=frozenset(allowed | own_origins(headers, url)),
        )

    @property
    def present(self) -> bool:
        return bool(self.values)

    def token(self) -> str | None:
        """The refresh token the cookie carries, once the request passed the CSRF rule (else 403).

        None without the cookie; an empty string, which names no session,
        when the request carries two of them.
        """
        if not self.values:
            return None
        refusal = self._csrf_refusal()
        if refusal is not None:
            logger.info("refresh cookie refused: %s", refusal)
            raise AuthorizationError(
                "A request signed in by the refresh cookie must come from a script of an allowed origin "
                "(with the header X-Requested-With: fetch).",
                code=COOKIE_REFUSALS[0],
            )
        return self.values[0] if len(self.values) == 1 else ""

    def _csrf_refusal(self) -> str | None:
        if (self.requested_with or "").strip().lower() != REQUESTED_WITH:
            return "no X-Requested-With: fetch"
        if self.origin is not None and _normalized(self.origin) not in self.allowed_origins:
            return "an origin not allowed"
        return None


def cookie_values(header: str, name: str) -> tuple[str, ...]:
    """The values of every cookie called ``name`` in a ``Cookie`` header, in the order sent."""
    values = []
    for pair in header.split(";"):
        key, equals, value = pair.strip().partition("=")
        if equals and key == name:
            values.append(value.strip().strip('"'))
    return tuple(values)


def own_origins(headers: Mapping[str, str], url: str) -> set[str]:
    """The API's own origin(s): the URL the host received, and the one a proxy in front forwarded."""
    parts = urlsplit(url)
    origins = {_origin(parts.scheme, parts.netloc)} if parts.scheme and parts.netloc else set()
    host = _first(headers.get("x-forwarded-host")) or headers.get("host")
    scheme = _first(headers.get("x-forwarded-proto")) or parts.scheme
    if host and scheme:
        origins.add(_origin(scheme, host))
    return origins


def _normalized(origin: str) -> str:
    """An origin as browsers serialize it: lower case, no default port (``null`` stays ``null``)."""
    parts = urlsplit(origin.strip())
    return _origin(parts.scheme, parts.netloc) if parts.scheme and parts.netloc else origin.strip().lower()


def _first(value: str | None) -> str | None:
    """The first entry of a comma-separated forwarding header (the proxy nearest the caller)."""
    first = value.split(",", 1)[0].strip() if value else ""
    return first or None


def _origin(scheme: str, host: str) -> str:
    scheme, host = scheme.strip().lower(), host.strip().lower()
    name, colon, port = host.rpartition(":")
    if colon and port == _DEFAULT_PORTS.get(scheme):  # an Origin never names the scheme's default port
        host = name
    return f"{scheme}://{host}"
