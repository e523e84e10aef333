"""Access tokens: the round trip and every reason to reject one."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from shared.config import load_settings
from shared.security.jwt_tokens import InvalidTokenError, create_access_token, decode_access_token

SETTINGS = load_settings(
    database_url="postgresql+pg8000://u@h/d", redis_url="redis://h:6379/0", jwt_secret_key="k" * 40
)
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key")
USER, SESSION = str(uuid.uuid4()), str(uuid.uuid4())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": USER,
        "sid": SESSION,
        "jti": uuid.uuid4().hex,
        "role": "donor",
        "npo_id": None,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "typ": "access",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def sign(payload: dict[str, Any], key: str = SETTINGS.jwt_secret_key, alg: str = "HS256", **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers=headers or None)


def test_round_trip() -> None:
    token, issued = create_access_token(SETTINGS, user_id=USER, session_id=SESSION, role="staff", npo_id="n1")
    decoded = decode_access_token(SETTINGS, token)
    assert decoded == issued
    assert decoded.role == "staff" and decoded.npo_id == "n1"
    assert decoded.expires_at - decoded.issued_at == 15 * 60


def test_hand_built_valid_token_passes() -> None:
    assert decode_access_token(SETTINGS, sign(claims())).user_id == USER


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _swap_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64(payload)}.{signature}"


def _without(claim: str) -> Any:
    return lambda: sign(claims(**{claim: ...}))


REJECTED = {
    "expired beyond the leeway": lambda: sign(claims(exp=int(time.time()) - SETTINGS.jwt_leeway_seconds - 2)),
    "a lifetime longer than this service issues": lambda: sign(claims(exp=int(time.time()) + 16 * 60)),
    "not yet valid": lambda: sign(claims(nbf=int(time.time()) + 300)),
    "issued in the future": lambda: sign(claims(iat=int(time.time()) + 300)),
    "wrong algorithm": lambda: sign(claims(), alg="HS512"),
    "alg none": lambda: _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims()) + ".",
    "wrong audience": lambda: sign(claims(aud="someone-else")),
    "wrong issuer": lambda: sign(claims(iss="https://evil.example.org")),
    "wrong type marker": lambda: sign(claims(typ="refresh")),
    "no type marker": lambda: sign(claims(typ=...)),
    "wrong key": lambda: sign(claims(), key="x" * 40),
    "tampered signature": lambda: sign(claims())[:-4] + "AAAA",
    "tampered payload": lambda: _swap_payload(sign(claims()), claims(role="super_admin")),
    "sub not a uuid": lambda: sign(claims(sub="admin")),
    "garbage": lambda: "not.a.jwt",
    "empty": lambda: "",
    "kid pointing elsewhere": lambda: sign(claims(), key="x" * 40, kid="../../dev/null"),
    "jku header": lambda: sign(claims(), key="x" * 40, jku="https://evil.example.org/keys"),
}
for claim in ("exp", "iat", "nbf", "sub", "jti", "sid", "aud", "iss"):
    REJECTED[f"missing {claim}"] = _without(claim)


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected(case: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode_access_token(SETTINGS, REJECTED[case]())


def test_issued_at_is_the_given_time() -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    token, issued = create_access_token(SETTINGS, user_id=USER, session_id=SESSION, role="donor", npo_id=None, now=now)
    assert issued.issued_at == int(now.timestamp())
    assert decode_access_token(SETTINGS, token).jti == issued.jti


def test_a_clock_a_little_behind_or_ahead_is_tolerated() -> None:
    """Instances' clocks drift by a second or two: that must not make fresh tokens fail."""
    now = int(time.time())
    skew = SETTINGS.jwt_leeway_seconds - 2
    assert decode_access_token(SETTINGS, sign(claims(exp=now - skew, iat=now - 600, nbf=now - 600)))
    assert decode_access_token(SETTINGS, sign(claims(iat=now + skew, nbf=now + skew, exp=now + 600)))
