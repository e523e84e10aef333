"""GET /.well-known/jwks.json, and forged tokens refused over HTTP on an authenticated route."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from shared.config import get_settings
from shared.security.signing_keys import KeySet, new_private_key_pem, parse_signing_keys
from tests.support.accounts import Account
from tests.support.forged_tokens import hs256_by_hand, unsigned
from tests.support.settings import settings_changed


def _key_set() -> KeySet:
    keys = get_settings().jwt_signing_keys
    assert keys is not None
    return keys


def test_jwks_publishes_the_configured_public_keys(client: httpx.Client) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == _key_set().jwks()
    (key,) = body["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}, "public members only"
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig"


def test_jwks_lists_every_key_in_order_and_its_cache_time_is_a_setting(client: httpx.Client) -> None:
    first, second = new_private_key_pem("ES256"), new_private_key_pem("ES256")
    expected = [parse_signing_keys(text, "ES256").signing.kid for text in (first, second)]
    with settings_changed(JWT_SIGNING_KEYS=first + second, JWKS_CACHE_SECONDS="60"):
        response = client.get("/.well-known/jwks.json")
    assert [key["kid"] for key in response.json()["keys"]] == expected
    assert response.headers["cache-control"] == "public, max-age=60"


def test_an_hs256_service_publishes_no_key_and_still_signs_in(client: httpx.Client, account: Account) -> None:
    """The single-service family over HTTP: one shared secret, nothing to publish, no kid."""
    with settings_changed(JWT_ALGORITHM="HS256"):
        assert client.get("/.well-known/jwks.json").json() == {"keys": []}
        token = account.tokens()["access_token"]
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "HS256", "typ": "at+jwt"}
        assert account.me(token).status_code == 200
    assert account.me(token).status_code == 401, "an HS256 token means nothing to the ES256 service"


# -- forgeries, each for a live session, so only the key can be what refuses them ---------------


def _live_claims(account: Account) -> dict[str, Any]:
    """The claims of a freshly issued token, with a new jti: valid in every way but the signature."""
    claims: dict[str, Any] = jwt.decode(account.tokens()["access_token"], options={"verify_signature": False})
    now = int(time.time())
    return {**claims, "jti": uuid.uuid4().hex, "iat": now, "nbf": now, "exp": now + 600}


def _refused(account: Account, token: str) -> None:
    response = account.me(token)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "INVALID_TOKEN"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_token_signed_by_our_key_passes(account: Account) -> None:
    """The control for the forgeries below: the same claims, signed as the service signs, are accepted."""
    signing = _key_set().signing
    token = jwt.encode(
        _live_claims(account), signing.private_key, algorithm="ES256", headers={"kid": signing.kid, "typ": "at+jwt"}
    )
    assert account.me(token).status_code == 200


def test_alg_confusion_is_401(account: Account) -> None:
    """HS256 keyed with the published public key (PEM or JWK bytes): the algorithm is pinned to ES256."""
    signing = _key_set().signing
    pem = signing.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": signing.kid}
    for secret in (pem, json.dumps(dict(signing.jwk)).encode()):
        _refused(account, hs256_by_hand(header, _live_claims(account), secret))


def test_alg_none_is_401(account: Account) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": _key_set().signing.kid}
    _refused(account, unsigned(header, _live_claims(account)))


def test_a_wrong_kid_is_401_even_with_our_signature(account: Account) -> None:
    signing = _key_set().signing
    for kid in ("not-a-key-of-ours", ""):
        token = jwt.encode(
            _live_claims(account), signing.private_key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}
        )
        _refused(account, token)


def test_a_foreign_key_is_401_whatever_kid_it_claims(account: Account) -> None:
    foreign = parse_signing_keys(new_private_key_pem("ES256"), "ES256").signing
    for kid in (foreign.kid, _key_set().signing.kid):
        token = jwt.encode(
            _live_claims(account), foreign.private_key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}
        )
        _refused(account, token)
    embedded = jwt.encode(
        _live_claims(account),
        foreign.private_key,
        algorithm="ES256",
        headers={"kid": foreign.kid, "typ": "at+jwt", "jwk": dict(foreign.jwk)},
    )
    _refused(account, embedded)
