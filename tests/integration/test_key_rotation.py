"""Rotating the signing key without signing anyone out: publish, switch, retire (docs/operations.md).

Each step is a new JWT_SIGNING_KEYS, as a redeployment would set it; the
service is the local server over HTTP, and the tokens are real sign-ins.
"""

from __future__ import annotations

import httpx
import jwt

from shared.security.signing_keys import new_private_key_pem, parse_signing_keys
from tests.support.accounts import Account
from tests.support.settings import settings_changed


def _kid(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def _published(client: httpx.Client) -> list[str]:
    return [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]]


def test_publish_switch_retire(client: httpx.Client, account: Account) -> None:
    old_pem, new_pem = new_private_key_pem("ES256"), new_private_key_pem("ES256")
    old, new = (parse_signing_keys(text, "ES256").signing.kid for text in (old_pem, new_pem))

    with settings_changed(JWT_SIGNING_KEYS=old_pem):  # before: one key
        before = account.tokens()
        assert _kid(before["access_token"]) == old and _published(client) == [old]

    with settings_changed(JWT_SIGNING_KEYS=old_pem + new_pem):  # (a) publish the new key second
        assert _published(client) == [old, new]
        published = account.tokens()
        assert _kid(published["access_token"]) == old, "the old key still signs"
        assert account.me(before["access_token"]).status_code == 200

    with settings_changed(JWT_SIGNING_KEYS=new_pem + old_pem):  # (b) switch: new first, old kept
        assert _published(client) == [new, old]
        switched = account.tokens()
        assert _kid(switched["access_token"]) == new, "new tokens carry the new kid"
        for earlier in (before, published):
            assert account.me(earlier["access_token"]).status_code == 200, "tokens of the old key still verify"
        assert account.me(switched["access_token"]).status_code == 200

    with settings_changed(JWT_SIGNING_KEYS=new_pem):  # (c) retire the old key
        assert _published(client) == [new]
        for earlier in (before, published):
            assert account.me(earlier["access_token"]).status_code == 401, "the retired key verifies nothing"
        assert account.me(switched["access_token"]).status_code == 200
        fresh = account.tokens()
        assert _kid(fresh["access_token"]) == new and account.me(fresh["access_token"]).status_code == 200
        # Nobody was signed out: a session of the old key refreshes into a token of the new one.
        refreshed = account.refresh(published["refresh_token"])
        assert refreshed.status_code == 200
        assert _kid(refreshed.json()["access_token"]) == new
        assert account.me(refreshed.json()["access_token"]).status_code == 200
