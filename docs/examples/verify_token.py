"""Verify an Augeo access token in another service: PyJWT 2.15+ with ``cryptography``.

Copy this file into your service (``pip install "pyjwt[crypto]>=2.15"``). It is the
example of docs/verifying-tokens.md, and the Augeo test suite runs it against
the running app over HTTP (tests/integration/test_verifying_tokens.py), so it stays true.

    verifier = AugeoTokenVerifier("https://<augeo-platform-api host>")
    try:
        caller = verifier.verify(bearer_token)          # AugeoCaller(user_id=..., role=..., ...)
    except InvalidAugeoTokenError:
        ...  # answer 401 with WWW-Authenticate: Bearer
    except AugeoKeysUnavailableError:
        ...  # answer 503: the key set could not be fetched; never let the request through
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient

# What Augeo is configured with (its JWT_ALGORITHM, JWT_ISSUER, JWT_AUDIENCE,
# JWT_LEEWAY_SECONDS and JWKS_CACHE_SECONDS). Never take any of them from a token.
ALGORITHM = "ES256"
ISSUER = "augeo-platform-api"
AUDIENCE = "augeo-platform"
LEEWAY_SECONDS = 5
JWKS_CACHE_SECONDS = 300
# RFC 9068: the header type of an access token (an ID token or any other JWT is refused).
ACCESS_TOKEN_MEDIA_TYPE = "at+jwt"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti", "typ"]


class InvalidAugeoTokenError(Exception):
    """Not a valid Augeo access token: answer 401."""


class AugeoKeysUnavailableError(Exception):
    """The key set could not be fetched: answer 503 and let the client retry."""


@dataclass(frozen=True)
class AugeoCaller:
    """The claims a service may rely on (as of when the token was issued, up to 15 minutes ago)."""

    user_id: str  # sub: the user's id (a UUID)
    session_id: str  # sid: the sign-in session
    role: str  # super_admin, npo_admin, event_coordinator, staff or donor
    npo_id: str | None  # the NPO of an NPO-bound role, else None
    expires_at: int  # exp, seconds since the epoch
    token_id: str  # jti


class AugeoTokenVerifier:
    """Checks signature, key, algorithm, header type, issuer, audience, time and claims of a token."""

    def __init__(
        self,
        base_url: str,
        *,
        algorithm: str = ALGORITHM,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        leeway_seconds: int = LEEWAY_SECONDS,
        cache_seconds: float = JWKS_CACHE_SECONDS,
        refetch_cooldown_seconds: float = 30,
    ) -> None:
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        # One client per process: it caches the key set for cache_seconds and
        # fetches it again (at most once per cooldown) when a token names a
        # kid it does not know yet, which is how it follows a key rotation.
        self._keys = PyJWKClient(
            base_url.rstrip("/") + "/.well-known/jwks.json",
            cache_jwk_set=True,
            lifespan=cache_seconds,
            timeout=5,
            cooldown_duration=refetch_cooldown_seconds,
        )

    def verify(self, token: str) -> AugeoCaller:
        """The caller of a valid access token; InvalidAugeoTokenError or AugeoKeysUnavailableError otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != ACCESS_TOKEN_MEDIA_TYPE:
                raise InvalidAugeoTokenError("not an access token")
            # The kid only selects one of Augeo's published keys; an unknown kid is refused.
            signing_key = self._keys.get_signing_key_from_jwt(token)
            if signing_key.algorithm_name != self.algorithm:
                raise InvalidAugeoTokenError("key of another algorithm")
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=[self.algorithm],  # pinned: never the token's own "alg"
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise AugeoKeysUnavailableError(str(error)) from None
        except jwt.PyJWTError as error:  # includes PyJWKClientError: no published key has that kid
            raise InvalidAugeoTokenError(type(error).__name__) from None
        if claims.get("typ") != "access":
            raise InvalidAugeoTokenError("not an access token")
        return _caller(claims)


def _caller(claims: dict[str, Any]) -> AugeoCaller:
    npo_id = claims.get("npo_id")
    strings = [claims.get(name) for name in ("sub", "sid", "jti", "role")]
    if not all(isinstance(value, str) and value for value in strings) or not isinstance(npo_id, str | None):
        raise InvalidAugeoTokenError("malformed claims")
    return AugeoCaller(
        user_id=claims["sub"],
        session_id=claims["sid"],
        role=claims["role"],
        npo_id=npo_id,
        expires_at=int(claims["exp"]),
        token_id=claims["jti"],
    )
