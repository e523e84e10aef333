"""The CORS of the Azure Functions host, for the local server to do exactly the same.

On Flex Consumption the Functions host always runs ASP.NET Core's CORS
middleware, with one policy built from the site's ``siteConfig.cors``: the
allowed origins (lower-cased), any request header, any method, and credentials
when ``supportCredentials`` is true; no exposed headers and no preflight
max-age. (In the host's source: ``CorsOptionsSetup`` builds that policy on
Linux Consumption and Flex, ``JobHostCorsMiddleware`` puts ASP.NET Core's
``CorsMiddleware`` in front of every request; ``CorsService`` decides the
headers.) What it does, and what :class:`HostCorsPolicy` reproduces:

- a request without ``Origin`` passes untouched;
- a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
  is answered 204 by the host itself and never reaches a function. For an
  allowed origin the answer carries ``Access-Control-Allow-Origin`` (that
  origin), ``-Allow-Credentials: true``, ``-Allow-Headers`` (the headers asked
  for, when any) and ``-Allow-Methods`` (the method asked for); for any other
  origin it carries no CORS header at all, which is how a browser learns no;
- any other request from an allowed origin gets the function's response plus
  ``Access-Control-Allow-Origin`` and ``-Allow-Credentials``; from any other
  origin, the function's response as it is;
- ``Vary: Origin`` is added only when more than one origin is configured.

The product adds ``Access-Control-Expose-Headers`` and ``Vary: Origin`` itself
(``shared.http.responses``): this module must not, or ``make run`` would let a
browser read what Azure hides.
"""

from __future__ import annotations

from dataclasses import dataclass

# infra/modules/functionapp.bicep deploys siteConfig.cors with supportCredentials: true
# (cookie sign-in needs it); tests/integration/test_infra.py checks the two agree.
SITE_SUPPORTS_CREDENTIALS = True
ANY_ORIGIN = "*"

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class HostCorsPolicy:
    """``siteConfig.cors`` as the host's middleware applies it."""

    allowed_origins: tuple[str, ...]
    support_credentials: bool = SITE_SUPPORTS_CREDENTIALS

    def __post_init__(self) -> None:
        # ASP.NET Core lower-cases each configured origin, then compares the
        # request's Origin to them exactly.
        object.__setattr__(self, "allowed_origins", tuple(origin.lower() for origin in self.allowed_origins))
        if self.allows_any_origin and self.support_credentials:
            # ASP.NET Core refuses to build this policy: credentials need named origins.
            raise ValueError("CORS_ORIGINS=* cannot go with credentials (the Functions host refuses it): name origins")

    @property
    def allows_any_origin(self) -> bool:
        """Only a list that is exactly ``*``; a ``*`` beside other origins matches nothing."""
        return self.allowed_origins == (ANY_ORIGIN,)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (self.allows_any_origin or origin in self.allowed_origins)

    def preflight(
        self, method: str, origin: str | None, requested_method: str | None, requested_headers: list[str]
    ) -> Headers | None:
        """The headers of the host's own 204 when this is a preflight (none for an origin it
        does not allow), or None when it is not one and goes on to a function."""
        if method != "OPTIONS" or not origin or requested_method is None:
            return None
        if not self.allows(origin):
            return []
        headers = self._allow(origin)
        names = [name.strip() for line in requested_headers for name in line.split(",") if name.strip()]
        if names:
            headers.append(("Access-Control-Allow-Headers", ",".join(names)))
        headers.append(("Access-Control-Allow-Methods", requested_method))
        return headers + self._vary()

    def on_response(self, origin: str | None) -> Headers:
        """What the host adds to a function's response to this origin."""
        if origin is None or not self.allows(origin):
            return []
        return self._allow(origin) + self._vary()

    def _allow(self, origin: str) -> Headers:
        headers = [("Access-Control-Allow-Origin", ANY_ORIGIN if self.allows_any_origin else origin)]
        if self.support_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def _vary(self) -> Headers:
        return [("Vary", "Origin")] if len(self.allowed_origins) > 1 else []
