"""Access tokens: JWTs (RFC 9068 ``at+jwt``) signed with a pinned algorithm.

By default (ES256, EdDSA, RS256) the first key of JWT_SIGNING_KEYS signs and
every configured key's public half verifies, so other Augeo services can check
a token with the published JWK Set and cannot mint one. HS256/384/512 sign and
verify with the one JWT_SECRET_KEY, for a single service that only checks its
own tokens.

Verification trusts nothing the token says about how to verify it: the
algorithm is pinned to JWT_ALGORITHM, and the header's ``kid`` only *selects*
one of the configured keys (its RFC 7638 thumbprint); a ``kid`` we do not
have, an embedded ``jwk``, a ``jku`` or ``x5u`` are never followed. PyJWT
accepts a token without ``exp`` and never checks a type unless told, so
decoding requires every claim we rely on, the ``typ: at+jwt`` header and our
own ``typ: access`` claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.config import Settings
from shared.security.signing_keys import KeySet, PrivateKey, PublicKey

# RFC 9068 §2.1: the media type of an access token, so it cannot be confused
# with an ID token or any other JWT signed by the same key.
ACCESS_TOKEN_MEDIA_TYPE = "at+jwt"
ACCESS_TOKEN_TYPE = "access"
TOKEN_TYPE_CLAIM = "typ"
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "sub", "jti", "sid", "aud", "iss", TOKEN_TYPE_CLAIM)


class InvalidTokenError(Exception):
    """The token is not one this service issued and still honours."""


class ExpiredTokenError(InvalidTokenError):
    """A token this service issued, past its ``exp`` and nothing else wrong with it.

    Everything else was verified (header, key, signature, issuer, audience,
    type, lifetime), so ``claims`` are genuine: a caller may be told to
    refresh, and sign-out may still end the session the token names.
    """

    def __init__(self, claims: AccessClaims) -> None:
        super().__init__("expired")
        self.claims = claims


def published_keys(settings: Settings) -> dict[str, list[dict[str, str]]]:
    """The JWK Set other services verify with: every configured public key; none for a shared secret."""
    return {"keys": []} if settings.jwt_is_symmetric else _key_set(settings).jwks()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token."""

    user_id: str
    session_id: str
    jti: str
    role: str
    npo_id: str | None
    issued_at: int
    expires_at: int


def access_token_claims(
    settings: Settings,
    *,
    user_id: str,
    session_id: str,
    role: str,
    npo_id: str | None,
    events: list[str] | None,
    auth_time: int | None,
    amr: list[str],
    issued: datetime,
) -> dict[str, Any]:
    """The claims of a new access token: the one place they are put together.

    Other services rely on these names (docs/verifying-tokens.md); a new claim
    is added here, and read back in ``_claims_from_payload`` when this service needs it.
    """
    issued_at = int(issued.timestamp())
    expires = issued + timedelta(minutes=settings.access_token_expire_minutes)
    claims: dict[str, Any] = {
        "sub": user_id,
        "sid": session_id,
        "jti": uuid.uuid4().hex,
        "role": role,
        "npo_id": npo_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": int(expires.timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        TOKEN_TYPE_CLAIM: ACCESS_TOKEN_TYPE,
    }
    if events is not None:  # the assigned events; absent when there are too many to carry
        claims["events"] = events
    if auth_time is not None:  # when the session last proved who it is (RFC 9068 §2.2.1), and how
        claims["auth_time"] = auth_time
        claims["amr"] = amr
    return claims


def create_access_token(
    settings: Settings,
    *,
    user_id: str,
    session_id: str,
    role: str,
    npo_id: str | None,
    events: list[str] | None = None,
    auth_time: int | None = None,
    amr: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[str, AccessClaims]:
    """Sign a new access token; returns the token and its claims."""
    payload = access_token_claims(
        settings,
        user_id=user_id,
        session_id=session_id,
        role=role,
        npo_id=npo_id,
        events=events,
        auth_time=auth_time,
        amr=amr or [],
        issued=now or datetime.now(UTC),
    )
    key, headers = _signing_key(settings)
    token = jwt.encode(payload, key, algorithm=settings.jwt_algorithm, headers=headers)
    return token, _claims_from_payload(payload)


def _secret(settings: Settings) -> str:
    if settings.jwt_secret_key is None:  # the settings refuse HS* without it
        raise RuntimeError("JWT_SECRET_KEY is not set")
    return settings.jwt_secret_key


def _key_set(settings: Settings) -> KeySet:
    if settings.jwt_signing_keys is None:  # the settings refuse ES256/EdDSA/RS256 without it
        raise RuntimeError("JWT_SIGNING_KEYS is not set")
    return settings.jwt_signing_keys


def _signing_key(settings: Settings) -> tuple[PrivateKey | str, dict[str, str]]:
    """The key that signs and the header that names it (no ``kid`` for the one shared secret)."""
    headers = {"typ": ACCESS_TOKEN_MEDIA_TYPE}
    if settings.jwt_is_symmetric:
        return _secret(settings), headers
    signing = _key_set(settings).signing
    return signing.private_key, {**headers, "kid": signing.kid}


def _verification_key(settings: Settings, header: dict[str, Any]) -> PublicKey | str:
    """The configured key the header's ``kid`` names; never a key the token brings along."""
    if header.get("typ") != ACCESS_TOKEN_MEDIA_TYPE:
        raise InvalidTokenError("not an access token (typ header)")
    if settings.jwt_is_symmetric:
        if "kid" in header:
            raise InvalidTokenError("kid on a token this service signs without one")
        return _secret(settings)
    key = _key_set(settings).verification_key(header.get("kid"))
    if key is None:
        raise InvalidTokenError("unknown kid")
    return key


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify header, key, signature, algorithm, time, issuer, audience and type; or raise.

    :class:`ExpiredTokenError` only when ``exp`` is all that failed. PyJWT
    checks ``exp`` before ``iss`` and ``aud``, so an expired token is decoded
    a second time without the expiry check (no I/O; only on that path) before
    it is called merely expired.
    """
    try:
        return _verified_claims(settings, token, check_expiry=True)
    except jwt.ExpiredSignatureError:
        pass
    raise ExpiredTokenError(_verified_claims(settings, token, check_expiry=False))


def _verified_claims(settings: Settings, token: str, *, check_expiry: bool) -> AccessClaims:
    try:
        key = _verification_key(settings, jwt.get_unverified_header(token))
        payload = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True, "verify_exp": check_expiry},
        )
    except jwt.ExpiredSignatureError:
        raise
    except jwt.PyJWTError as error:
        raise InvalidTokenError(type(error).__name__) from None
    if payload.get(TOKEN_TYPE_CLAIM) != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("wrong token type")
    claims = _claims_from_payload(payload)
    if claims.expires_at - claims.issued_at > settings.access_token_expire_minutes * 60:
        # Only a holder of the signing key could have made it; refuse it anyway.
        raise InvalidTokenError("lifetime longer than this service issues")
    return claims


def _claims_from_payload(payload: dict[str, Any]) -> AccessClaims:
    sub, sid, jti = payload["sub"], payload["sid"], payload["jti"]
    role, npo_id = payload.get("role"), payload.get("npo_id")
    if not all(isinstance(value, str) and value for value in (sub, sid, jti)) or not isinstance(role, str):
        raise InvalidTokenError("malformed claims")
    if npo_id is not None and not isinstance(npo_id, str):
        raise InvalidTokenError("malformed claims")
    try:
        uuid.UUID(sub)
        uuid.UUID(sid)
    except ValueError:
        raise InvalidTokenError("malformed claims") from None
    return AccessClaims(
        user_id=sub,
        session_id=sid,
        jti=jti,
        role=role,
        npo_id=npo_id,
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )
