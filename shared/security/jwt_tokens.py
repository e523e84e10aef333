"""Access tokens: JWTs signed with a pinned HMAC algorithm.

PyJWT accepts a token without ``exp`` and never checks a type claim unless
told, so decoding pins the algorithm list, requires every claim we rely on and
checks our own type marker. The key always comes from configuration: header
fields such as ``kid``, ``jku`` or ``jwk`` are never consulted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.config import Settings

ACCESS_TOKEN_TYPE = "access"
TOKEN_TYPE_CLAIM = "typ"
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "sub", "jti", "sid", "aud", "iss", TOKEN_TYPE_CLAIM)


class InvalidTokenError(Exception):
    """The token is not one this service issued and still honours."""


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


def create_access_token(
    settings: Settings,
    *,
    user_id: str,
    session_id: str,
    role: str,
    npo_id: str | None,
    events: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[str, AccessClaims]:
    """Sign a new access token; returns the token and its claims."""
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=settings.access_token_expire_minutes)
    claims = AccessClaims(
        user_id=user_id,
        session_id=session_id,
        jti=uuid.uuid4().hex,
        role=role,
        npo_id=npo_id,
        issued_at=int(issued.timestamp()),
        expires_at=int(expires.timestamp()),
    )
    payload: dict[str, Any] = {
        "sub": user_id,
        "sid": session_id,
        "jti": claims.jti,
        "role": role,
        "npo_id": npo_id,
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.expires_at,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        TOKEN_TYPE_CLAIM: ACCESS_TOKEN_TYPE,
    }
    if events is not None:  # the assigned events; absent when there are too many to carry
        payload["events"] = events
    token = jwt.encode(payload, settings.jwt_secret_key, algorithm=settings.jwt_algorithm)
    return token, claims


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, algorithm, time, issuer, audience and type; or raise."""
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret_key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
        )
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
