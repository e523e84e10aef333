"""docs/examples/verify_token.py, the other services' example, run against the app over HTTP.

The example fetches the JWK Set from the local server with PyJWKClient, as a
service would from the deployed app. If the example accepted a token it
should refuse, or refused a real one, these tests fail.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.config import get_settings
from shared.security.signing_keys import SigningKey, new_private_key_pem, parse_signing_keys
from tests.support import ROOT
from tests.support.accounts import Account, Actor
from tests.support.forged_tokens import b64url, hs256_by_hand, unsigned
from tests.support.network import unused_port
from tests.support.settings import settings_changed

EXAMPLE = ROOT / "docs" / "examples" / "verify_token.py"


def _load_example() -> ModuleType:
    """The file the guide shows, imported as it is (not a copy)."""
    spec = importlib.util.spec_from_file_location("augeo_verify_token_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through it
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture
def verifier(base_url: str) -> Any:
    # No refetch cooldown: the rotation test below needs the refetch on an unknown kid at once.
    return example.AugeoTokenVerifier(base_url, refetch_cooldown_seconds=0)


def _signing() -> SigningKey:
    keys = get_settings().jwt_signing_keys
    assert keys is not None
    return keys.signing


def _claims(token: str, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return {k: v for k, v in {**claims, **changes}.items() if v is not ...}


def _resigned(token: str, key: Any = None, headers: dict[str, Any] | None = None, **changes: Any) -> str:
    """The token's claims (changed), signed by our signing key unless told otherwise."""
    signing = _signing()
    header = {"kid": signing.kid, "typ": "at+jwt", **(headers or {})}
    header = {k: v for k, v in header.items() if v is not ...}
    return jwt.encode(_claims(token, **changes), key or signing.private_key, algorithm="ES256", headers=header)


def test_the_example_verifies_a_real_sign_in(verifier: Any, account: Account) -> None:
    tokens = account.tokens()
    caller = verifier.verify(tokens["access_token"])
    assert caller.user_id == tokens["user"]["id"] and caller.role == "donor" and caller.npo_id is None
    assert caller.session_id == _claims(tokens["access_token"])["sid"]
    assert caller.token_id == _claims(tokens["access_token"])["jti"]
    assert caller.expires_at > time.time()


def test_the_example_reads_the_npo_of_an_npo_role(verifier: Any, signed_in: Callable[..., Actor]) -> None:
    npo = uuid.uuid4()
    staff = signed_in("staff", npo)
    caller = verifier.verify(staff.access_token)
    assert caller.role == "staff" and caller.npo_id == str(npo) and caller.user_id == staff.id


def _alg_confusion(token: str) -> str:
    signing = _signing()
    pem = signing.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": signing.kid}
    return hs256_by_hand(header, _claims(token), pem)


def _alg_none(token: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": _signing().kid}
    return unsigned(header, _claims(token))


def _foreign(token: str, own_kid: bool) -> str:
    foreign = parse_signing_keys(new_private_key_pem("ES256"), "ES256").signing
    return _resigned(token, key=foreign.private_key, headers={"kid": foreign.kid if own_kid else _signing().kid})


FORGED: dict[str, Callable[[str], str]] = {
    "tampered payload": lambda t: ".".join([t.split(".")[0], b64url(_claims(t, role="super_admin")), t.split(".")[2]]),
    "alg confusion (HS256 keyed with the public key)": _alg_confusion,
    "alg none": _alg_none,
    "foreign key, own kid": lambda t: _foreign(t, own_kid=True),
    "foreign key claiming our kid": lambda t: _foreign(t, own_kid=False),
    "unknown kid": lambda t: _resigned(t, headers={"kid": "no-such-key"}),
    "no kid": lambda t: _resigned(t, headers={"kid": ...}),
    "typ header JWT": lambda t: _resigned(t, headers={"typ": "JWT"}),
    "typ claim refresh": lambda t: _resigned(t, typ="refresh"),
    "expired": lambda t: _resigned(t, exp=int(time.time()) - 60, iat=int(time.time()) - 900),
    "not yet valid": lambda t: _resigned(t, nbf=int(time.time()) + 600),
    "other issuer": lambda t: _resigned(t, iss="https://evil.example.org"),
    "other audience": lambda t: _resigned(t, aud="someone-else"),
    "no sid": lambda t: _resigned(t, sid=...),
    "no exp": lambda t: _resigned(t, exp=...),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_the_example_refuses_what_the_app_refuses(verifier: Any, account: Account, case: str) -> None:
    token = account.tokens()["access_token"]
    assert verifier.verify(_resigned(token)).user_id, "the control: resigned as the app signs, it passes"
    forged = FORGED[case](token)
    with pytest.raises(example.InvalidAugeoTokenError):
        verifier.verify(forged)
    assert account.me(forged).status_code == 401, "and the app agrees"


def test_the_example_pins_its_audience_and_issuer(base_url: str, account: Account) -> None:
    token = account.tokens()["access_token"]
    for verifier in (
        example.AugeoTokenVerifier(base_url, audience="augeo-other"),
        example.AugeoTokenVerifier(base_url, issuer="https://other-issuer"),
        example.AugeoTokenVerifier(base_url, algorithm="RS256"),
    ):
        with pytest.raises(example.InvalidAugeoTokenError):
            verifier.verify(token)


def test_the_example_follows_a_rotation(verifier: Any, account: Account) -> None:
    """A cached key set is fetched again when a token names a kid it has not seen."""
    before = account.tokens()["access_token"]
    assert verifier.verify(before)  # the key set is now cached
    new_pem = new_private_key_pem("ES256")
    current_pem = new_private_key_pem("ES256")  # stands for the current key: any key first published
    with settings_changed(JWT_SIGNING_KEYS=current_pem):
        old_token = account.tokens()["access_token"]
        assert verifier.verify(old_token)
    with settings_changed(JWT_SIGNING_KEYS=new_pem + current_pem):
        switched = account.tokens()["access_token"]
        assert jwt.get_unverified_header(switched)["kid"] == parse_signing_keys(new_pem, "ES256").signing.kid
        assert verifier.verify(switched).user_id == verifier.verify(old_token).user_id


def test_keys_out_of_reach_are_not_an_invalid_token(account: Account) -> None:
    """The service answers 503 (and lets nothing through) when it cannot fetch the keys."""
    unreachable = example.AugeoTokenVerifier(f"http://127.0.0.1:{unused_port()}")
    with pytest.raises(example.AugeoKeysUnavailableError):
        unreachable.verify(account.tokens()["access_token"])


def test_the_guide_shows_this_example_and_states_the_rules() -> None:
    guide = (ROOT / "docs" / "verifying-tokens.md").read_text()
    assert "docs/examples/verify_token.py" in guide
    for rule in ("at+jwt", "kid", "ES256", "iss", "aud", "exp", "nbf", "/.well-known/jwks.json", "/api/v1/authz/check"):
        assert rule in guide, rule


def test_the_guide_documents_every_claim_a_real_token_carries(account: Account) -> None:
    """The claims table is what other services code against: a claim the app issues is in it."""
    claims = jwt.decode(account.tokens()["access_token"], options={"verify_signature": False})
    guide = (ROOT / "docs" / "verifying-tokens.md").read_text()
    section = guide[guide.index("## Claims you can rely on") :].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert set(claims) <= documented, sorted(set(claims) - documented)
