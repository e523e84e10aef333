"""Access tokens: the round trip and every reason to reject one, for both families of keys.

ES256 / EdDSA / RS256 sign with the first of JWT_SIGNING_KEYS and verify with
the key a token's ``kid`` names; HS256 signs and verifies with JWT_SECRET_KEY.
Every rule of the token (claims, time, type) is checked for each.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import get_default_algorithms

from shared.config import Settings, load_settings
from shared.security.jwt_tokens import (
    InvalidTokenError,
    access_token_claims,
    create_access_token,
    decode_access_token,
)
from shared.security.signing_keys import AsymmetricAlgorithm, SigningKey, new_private_key_pem, parse_signing_keys
from tests.support.forged_tokens import b64url, hs256_by_hand, unsigned

BASE: dict[str, Any] = {
    "database_url": "postgresql+pg8000://u@h/d",
    "redis_url": "redis://h:6379/0",
    "environment": "test",
}
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key")
USER, SESSION = str(uuid.uuid4()), str(uuid.uuid4())
SECRET = "k" * 40


def _rsa_2048() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # 3072 (the CLI's) is slow to generate
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class Family:
    """One JWT_ALGORITHM configured, and how to sign hand-built tokens as this service would."""

    settings: Settings
    key: Any  # what signs: the private key object, or the shared secret
    kid: str | None

    @property
    def algorithm(self) -> str:
        return self.settings.jwt_algorithm

    def sign(self, payload: dict[str, Any], *, key: Any = None, alg: str | None = None, **headers: Any) -> str:
        """Sign like the service does (typ at+jwt, our kid), with any header or key overridden."""
        header: dict[str, Any] = {"typ": "at+jwt", **({"kid": self.kid} if self.kid else {})}
        header.update(headers)
        header = {name: value for name, value in header.items() if value is not ...}
        return jwt.encode(payload, self.key if key is None else key, algorithm=alg or self.algorithm, headers=header)


def _asymmetric(algorithm: str, text: str) -> Family:
    settings = load_settings(**BASE, jwt_algorithm=algorithm, jwt_signing_keys=text)
    assert settings.jwt_signing_keys is not None
    signing = settings.jwt_signing_keys.signing
    return Family(settings, signing.private_key, signing.kid)


FAMILIES: dict[str, Callable[[], Family]] = {
    "ES256": lambda: _asymmetric("ES256", new_private_key_pem("ES256")),
    "EdDSA": lambda: _asymmetric("EdDSA", new_private_key_pem("EdDSA")),
    "RS256": lambda: _asymmetric("RS256", _rsa_2048()),
    "HS256": lambda: Family(load_settings(**BASE, jwt_algorithm="HS256", jwt_secret_key=SECRET), SECRET, None),
}
_BUILT: dict[str, Family] = {}


def _family(name: str) -> Family:
    """One key per family for the module: RSA generation is slow."""
    if name not in _BUILT:
        _BUILT[name] = FAMILIES[name]()
    return _BUILT[name]


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    name: str = request.param
    return _family(name)


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": USER,
        "sid": SESSION,
        "jti": uuid.uuid4().hex,
        "role": "donor",
        "npo_id": None,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "typ": "access",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def _swap_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url(payload)}.{signature}"


def sign_by_hand(header: dict[str, Any], payload: dict[str, Any], key: Any, alg: str) -> str:
    """Any header at all (PyJWT's encode refuses a non-string kid), signed properly with ``key``."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = get_default_algorithms()[alg].sign(signing_input.encode(), key)
    return signing_input + "." + b64url(signature)


# -- round trips ---------------------------------------------------------------------------


def test_round_trip(family: Family) -> None:
    settings = family.settings
    token, issued = create_access_token(settings, user_id=USER, session_id=SESSION, role="staff", npo_id="n1")
    decoded = decode_access_token(settings, token)
    assert decoded == issued
    assert decoded.role == "staff" and decoded.npo_id == "n1"
    assert decoded.expires_at - decoded.issued_at == 15 * 60
    header = jwt.get_unverified_header(token)
    assert header["alg"] == family.algorithm and header["typ"] == "at+jwt"
    assert header.get("kid") == family.kid, "the kid is the signing key's thumbprint (none for HS256)"


def test_hand_built_valid_token_passes(family: Family) -> None:
    assert decode_access_token(family.settings, family.sign(claims(family.settings))).user_id == USER


def test_issued_at_is_the_given_time(family: Family) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    settings = family.settings
    token, issued = create_access_token(settings, user_id=USER, session_id=SESSION, role="donor", npo_id=None, now=now)
    assert issued.issued_at == int(now.timestamp())
    assert decode_access_token(settings, token).jti == issued.jti


def test_a_clock_a_little_behind_or_ahead_is_tolerated(family: Family) -> None:
    """Instances' clocks drift by a second or two: that must not make fresh tokens fail."""
    now = int(time.time())
    settings = family.settings
    skew = settings.jwt_leeway_seconds - 2
    assert decode_access_token(settings, family.sign(claims(settings, exp=now - skew, iat=now - 600, nbf=now - 600)))
    assert decode_access_token(settings, family.sign(claims(settings, iat=now + skew, nbf=now + skew, exp=now + 600)))


def test_claims_are_built_in_one_place() -> None:
    """create_access_token signs exactly what access_token_claims builds (the one function to extend)."""
    settings = FAMILIES["HS256"]()
    issued = datetime.now(UTC)
    claims: dict[str, Any] = {
        "user_id": USER,
        "session_id": SESSION,
        "role": "staff",
        "npo_id": None,
        "events": [USER],
        "auth_time": 1,
        "amr": ["pwd"],
    }
    built = access_token_claims(settings.settings, **claims, issued=issued)
    token, _ = create_access_token(settings.settings, **claims, now=issued)
    signed = jwt.decode(token, options={"verify_signature": False})
    assert set(signed) == set(built) and {k: v for k, v in signed.items() if k != "jti"} == {
        k: v for k, v in built.items() if k != "jti"
    }


# -- what every family refuses --------------------------------------------------------------


def _without(claim: str) -> Callable[[Family], str]:
    return lambda f: f.sign(claims(f.settings, **{claim: ...}))


REJECTED: dict[str, Callable[[Family], str]] = {
    "expired beyond the leeway": lambda f: f.sign(
        claims(f.settings, exp=int(time.time()) - f.settings.jwt_leeway_seconds - 2)
    ),
    "a lifetime longer than this service issues": lambda f: f.sign(claims(f.settings, exp=int(time.time()) + 16 * 60)),
    "not yet valid": lambda f: f.sign(claims(f.settings, nbf=int(time.time()) + 300)),
    "issued in the future": lambda f: f.sign(claims(f.settings, iat=int(time.time()) + 300)),
    "alg none": lambda f: unsigned(
        {"alg": "none", "typ": "at+jwt", **({"kid": f.kid} if f.kid else {})}, claims(f.settings)
    ),
    "wrong audience": lambda f: f.sign(claims(f.settings, aud="someone-else")),
    "wrong issuer": lambda f: f.sign(claims(f.settings, iss="https://evil.example.org")),
    "wrong type marker": lambda f: f.sign(claims(f.settings, typ="refresh")),
    "no type marker": lambda f: f.sign(claims(f.settings, typ=...)),
    "typ header JWT": lambda f: f.sign(claims(f.settings), typ="JWT"),
    "no typ header": lambda f: f.sign(claims(f.settings), typ=None),
    "typ header of an ID token": lambda f: f.sign(claims(f.settings), typ="id_token+jwt"),
    "tampered signature": lambda f: f.sign(claims(f.settings))[:-4] + "AAAA",
    "tampered payload": lambda f: _swap_payload(f.sign(claims(f.settings)), claims(f.settings, role="super_admin")),
    "sub not a uuid": lambda f: f.sign(claims(f.settings, sub="admin")),
    "garbage": lambda f: "not.a.jwt",
    "empty": lambda f: "",
    "jku header pointing at the attacker's keys": lambda f: _foreign(f, jku="https://evil.example.org/keys"),
    "x5u header": lambda f: _foreign(f, x5u="https://evil.example.org/cert.pem"),
}
for _claim in ("exp", "iat", "nbf", "sub", "jti", "sid", "aud", "iss"):
    REJECTED[f"missing {_claim}"] = _without(_claim)


def _foreign(f: Family, **headers: Any) -> str:
    """Signed by a key of the same type that is not ours, claiming whatever the headers say."""
    if f.settings.jwt_is_symmetric:
        return f.sign(claims(f.settings), key="x" * 40, **headers)
    other = _another_key(f.algorithm)
    return f.sign(claims(f.settings), key=other.private_key, **headers)


def _another_key(algorithm: str) -> SigningKey:
    asymmetric = cast(AsymmetricAlgorithm, algorithm)
    text = _rsa_2048() if asymmetric == "RS256" else new_private_key_pem(asymmetric)
    return parse_signing_keys(text, asymmetric).signing


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected(family: Family, case: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode_access_token(family.settings, REJECTED[case](family))


def test_a_foreign_key_is_rejected_whatever_kid_it_claims(family: Family) -> None:
    """Our kid (the signature fails), its own kid (unknown), or no kid at all."""
    for kid in (family.kid or "ours", "not-a-kid-we-have", ...):
        with pytest.raises(InvalidTokenError):
            decode_access_token(family.settings, _foreign(family, kid=kid))


def test_a_token_of_another_algorithm_is_rejected(family: Family) -> None:
    """The algorithm is pinned: a token signed with another algorithm fails even when its kid is ours."""
    other = "HS512" if family.algorithm != "HS512" else "HS256"
    with pytest.raises(InvalidTokenError):
        decode_access_token(family.settings, family.sign(claims(family.settings), key="y" * 64, alg=other))


# -- what only one family can be asked -------------------------------------------------------

ASYMMETRIC = ("ES256", "EdDSA", "RS256")


@pytest.mark.parametrize("name", ASYMMETRIC)
def test_alg_confusion_hs256_signed_with_the_public_key_is_rejected(name: str) -> None:
    """The classic attack: take the published public key, use its bytes as an HMAC secret."""
    f = _family(name)
    assert f.settings.jwt_signing_keys is not None
    public = f.settings.jwt_signing_keys.signing.public_key
    for public_bytes in (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps(dict(f.settings.jwt_signing_keys.signing.jwk)).encode(),
    ):
        token = hs256_by_hand({"alg": "HS256", "typ": "at+jwt", "kid": f.kid}, claims(f.settings), public_bytes)
        with pytest.raises(InvalidTokenError):
            decode_access_token(f.settings, token)


@pytest.mark.parametrize("name", ASYMMETRIC)
def test_an_unknown_or_missing_kid_is_rejected_even_with_our_signature(name: str) -> None:
    """The kid selects the key; a token signed by our key but naming no key we have is not ours."""
    f = _family(name)
    for kid in ("unknown", "", ..., 7, ["list"], {"kid": f.kid}):
        header = {"alg": f.algorithm, "typ": "at+jwt", **({} if kid is ... else {"kid": kid})}
        with pytest.raises(InvalidTokenError):
            decode_access_token(f.settings, sign_by_hand(header, claims(f.settings), f.key, f.algorithm))
    good = sign_by_hand({"alg": f.algorithm, "typ": "at+jwt", "kid": f.kid}, claims(f.settings), f.key, f.algorithm)
    assert decode_access_token(f.settings, good).user_id == USER, "the hand-signing itself is right"


@pytest.mark.parametrize("name", ASYMMETRIC)
def test_a_key_embedded_in_the_header_is_never_used(name: str) -> None:
    """RFC 7515 jwk header: an attacker's own public key, with a kid of its own: never followed."""
    f = _family(name)
    attacker = _another_key(name)
    token = f.sign(claims(f.settings), key=attacker.private_key, kid=attacker.kid, jwk=dict(attacker.jwk))
    with pytest.raises(InvalidTokenError):
        decode_access_token(f.settings, token)


def test_hs256_tokens_carry_no_kid_and_refuse_one() -> None:
    f = _family("HS256")
    with pytest.raises(InvalidTokenError):
        decode_access_token(f.settings, f.sign(claims(f.settings), kid="anything"))


def test_an_es256_token_does_not_pass_an_hs256_service_and_back() -> None:
    es = _family("ES256")
    hs = _family("HS256")
    es_token, _ = create_access_token(es.settings, user_id=USER, session_id=SESSION, role="donor", npo_id=None)
    hs_token, _ = create_access_token(hs.settings, user_id=USER, session_id=SESSION, role="donor", npo_id=None)
    for settings, token in ((hs.settings, es_token), (es.settings, hs_token)):
        with pytest.raises(InvalidTokenError):
            decode_access_token(settings, token)
