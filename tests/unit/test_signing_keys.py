"""JWT_SIGNING_KEYS: what is accepted, what is refused (and how it is said), kids and JWKs."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from shared.config import ConfigurationError, load_settings
from shared.security.signing_keys import (
    DEVELOPMENT_MARKER,
    AsymmetricAlgorithm,
    SigningKeyError,
    jwk_thumbprint,
    new_private_key_pem,
    parse_signing_keys,
    required_jwk_members,
)

BASE: dict[str, Any] = {
    "database_url": "postgresql+pg8000://u@h/d",
    "redis_url": "redis://h:6379/0",
    "environment": "development",
}


def pem(key: PrivateKeyTypes, label_format: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, label_format, serialization.NoEncryption()).decode()


def rsa_pem(bits: int = 2048) -> str:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


# -- RFC 7638 ------------------------------------------------------------------------

# RFC 7638 §3.1, the worked example: this RSA public key has this thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
    "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
    "kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    assert jwk_thumbprint({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}) == RFC7638_THUMBPRINT
    public = jwt.PyJWK({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}).key
    assert required_jwk_members(public) == {"e": "AQAB", "kty": "RSA", "n": RFC7638_N}


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_each_key_is_published_as_a_jwk_pyjwt_can_verify_with(algorithm: AsymmetricAlgorithm) -> None:
    text = rsa_pem() if algorithm == "RS256" else new_private_key_pem(algorithm)
    key = parse_signing_keys(text, algorithm).signing
    jwk = dict(key.jwk)
    assert jwk["kid"] == jwk_thumbprint({k: v for k, v in jwk.items() if k not in ("kid", "alg", "use")})
    assert jwk["alg"] == algorithm and jwk["use"] == "sig"
    assert "d" not in jwk and "p" not in jwk, "never a private member"
    expected = {"ES256": {"crv", "kty", "x", "y"}, "EdDSA": {"crv", "kty", "x"}, "RS256": {"e", "kty", "n"}}
    assert set(jwk) == expected[algorithm] | {"kid", "alg", "use"}
    token = jwt.encode({"sub": "x"}, key.private_key, algorithm=algorithm, headers={"kid": key.kid})
    published = jwt.PyJWK(jwk)
    assert jwt.decode(token, published.key, algorithms=[algorithm]) == {"sub": "x"}


def _p256_key_with_a_short_coordinate(coordinate: str) -> ec.EllipticCurvePrivateKey:
    """The first P-256 key, from a fixed seed, whose ``coordinate`` is below 2^248: its first byte is zero.

    About one key in 256 has it, so the search is short, and the same on every run.
    """
    scalars = random.Random(7518)  # fixed seed: the same keys every run (a test key, not a secret)
    while True:
        key = ec.derive_private_key(scalars.randrange(1, 2**255), ec.SECP256R1())
        if getattr(key.public_key().public_numbers(), coordinate) < 2**248:
            return key


@pytest.mark.parametrize("coordinate", ["x", "y"])
def test_ec_coordinates_keep_their_leading_zero_bytes(coordinate: str) -> None:
    """RFC 7518 §6.2.1.2: x and y are always 32 bytes for P-256, even when they start with zeros."""
    key = _p256_key_with_a_short_coordinate(coordinate)
    published = parse_signing_keys(pem(key), "ES256").signing.jwk
    value = getattr(key.public_key().public_numbers(), coordinate)
    assert published[coordinate] == base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()
    assert len(published[coordinate]) == 43  # 32 bytes (the first one zero), base64url without padding


def test_the_kid_is_stable_and_differs_per_key() -> None:
    text = new_private_key_pem("ES256")
    assert parse_signing_keys(text, "ES256").signing.kid == parse_signing_keys(text, "ES256").signing.kid
    assert parse_signing_keys(new_private_key_pem("ES256"), "ES256").signing.kid != (
        parse_signing_keys(text, "ES256").signing.kid
    )


# -- what JWT_SIGNING_KEYS accepts ---------------------------------------------------------


def test_several_blocks_in_order_the_first_signs() -> None:
    first, second = new_private_key_pem("ES256"), new_private_key_pem("ES256")
    keys = parse_signing_keys(first + second, "ES256")
    assert [k.kid for k in keys.keys] == [
        parse_signing_keys(first, "ES256").signing.kid,
        parse_signing_keys(second, "ES256").signing.kid,
    ]
    assert keys.signing is keys.keys[0]
    assert [jwk["kid"] for jwk in keys.jwks()["keys"]] == [k.kid for k in keys.keys]


@pytest.mark.parametrize(
    "reshape",
    [
        lambda text: text.replace("\n", " "),  # an azd value or an app setting typed by hand: one line
        lambda text: text.replace("\n", "\\n"),  # a JSON or .env style escaped newline
        lambda text: text.replace("\n", "\r\n"),
        lambda text: "\n\n  " + text + "\n\n",
    ],
    ids=["spaces", "escaped-newlines", "crlf", "surrounding-white-space"],
)
def test_line_breaks_may_arrive_in_any_form(reshape: Any) -> None:
    text = new_private_key_pem("ES256") + new_private_key_pem("ES256")
    assert [k.kid for k in parse_signing_keys(reshape(text), "ES256").keys] == [
        k.kid for k in parse_signing_keys(text, "ES256").keys
    ]


def test_traditional_pem_labels_are_read_too() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sec1 = pem(ec_key, serialization.PrivateFormat.TraditionalOpenSSL)
    pkcs1 = pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert "EC PRIVATE KEY" in sec1 and "RSA PRIVATE KEY" in pkcs1
    assert parse_signing_keys(sec1, "ES256").signing.kid == parse_signing_keys(pem(ec_key), "ES256").signing.kid
    assert parse_signing_keys(pkcs1, "RS256").signing.kid == parse_signing_keys(pem(rsa_key), "RS256").signing.kid


def test_the_development_marker_is_recognised() -> None:
    marked = new_private_key_pem("ES256", development=True)
    assert marked.startswith(DEVELOPMENT_MARKER)
    keys = parse_signing_keys(new_private_key_pem("ES256") + marked, "ES256")
    assert [k.development for k in keys.keys] == [False, True] and keys.has_development_key


# -- what it refuses, and how it says so ---------------------------------------------------


def _twice(text: str) -> str:
    return text + text


REFUSED: dict[str, tuple[AsymmetricAlgorithm, Any, str]] = {
    "empty": ("ES256", lambda: "", "is required for JWT_ALGORITHM=ES256"),
    "not PEM": ("ES256", lambda: "hello", "holds no PEM private key"),
    "P-384 for ES256": ("ES256", lambda: pem(ec.generate_private_key(ec.SECP384R1())), "curve secp384r1"),
    "Ed25519 for ES256": ("ES256", lambda: new_private_key_pem("EdDSA"), "is an Ed25519 key; JWT_ALGORITHM=ES256"),
    "RSA for ES256": ("ES256", rsa_pem, "is an RSA key of 2048 bits; JWT_ALGORITHM=ES256"),
    "EC for EdDSA": ("EdDSA", lambda: new_private_key_pem("ES256"), "needs an Ed25519 private key"),
    "Ed448 for EdDSA": ("EdDSA", lambda: pem(ed448.Ed448PrivateKey.generate()), "type no supported algorithm"),
    "EC for RS256": ("RS256", lambda: new_private_key_pem("ES256"), "needs an RSA private key of at least 2048"),
    "RSA 1024": ("RS256", lambda: rsa_pem(1024), "RSA key of 1024 bits; at least 2048"),
    "second key wrong": (
        "ES256",
        lambda: new_private_key_pem("ES256") + new_private_key_pem("EdDSA"),
        "key 2 of 2 is an Ed25519 key",
    ),
    "public key": (
        "ES256",
        lambda: (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        ),
        "is a public key, not a private key",
    ),
    "encrypted": (
        "ES256",
        lambda: (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
            .decode()
        ),
        "is encrypted",
    ),
    "damaged body": ("ES256", lambda: new_private_key_pem("ES256").replace("M", "!", 3), "not a readable PEM"),
    "truncated body": (
        "ES256",
        lambda: re.sub(r"\n[^\n]*\n-----END", "\n-----END", new_private_key_pem("ES256")),
        "not a readable PEM",
    ),
    "text between keys": (
        "ES256",
        lambda: new_private_key_pem("ES256") + "Bag Attributes: x\n" + new_private_key_pem("ES256"),
        "text before key 2 of 2",
    ),
    "text after the key": ("ES256", lambda: new_private_key_pem("ES256") + "trailing", "text after its last PEM block"),
    "the same key twice": ("ES256", lambda: _twice(new_private_key_pem("ES256")), "the same key twice"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_at_start_naming_the_setting_without_showing_the_key(case: str) -> None:
    algorithm, make, says = REFUSED[case]
    text = make()
    with pytest.raises(ConfigurationError) as raised:
        load_settings(**BASE, jwt_algorithm=algorithm, jwt_signing_keys=text)
    message = str(raised.value)
    assert "JWT_SIGNING_KEYS" in message and says in message, message
    body_lines = [line for line in text.splitlines() if line and not line.startswith("-----")]
    assert not any(line in message for line in body_lines if len(line) > 8), "key material in the message"


def test_a_signing_key_below_2048_bits_is_refused_in_every_environment() -> None:
    for environment in ("development", "test", "production"):
        with pytest.raises(ConfigurationError, match="at least 2048"):
            load_settings(**{**BASE, "environment": environment}, jwt_algorithm="RS256", jwt_signing_keys=rsa_pem(1024))


def test_parse_errors_are_signing_key_errors() -> None:
    with pytest.raises(SigningKeyError):
        parse_signing_keys(new_private_key_pem("EdDSA"), "ES256")


def test_key_set_repr_shows_no_key_material() -> None:
    text = new_private_key_pem("ES256")
    settings = load_settings(**BASE, jwt_signing_keys=text)
    body = "".join(text.splitlines()[1:-1])
    assert body[:20] not in repr(settings) and body[:20] not in repr(settings.jwt_signing_keys)
    assert settings.jwt_signing_keys is not None and settings.jwt_signing_keys.signing.kid in repr(
        settings.jwt_signing_keys
    )


def test_new_signing_key_defaults_to_es256(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.cli import main

    assert main(["new-signing-key"]) == 0
    assert parse_signing_keys(capsys.readouterr().out, "ES256").algorithm == "ES256"


def test_published_jwks_is_valid_json_for_an_ed25519_key() -> None:
    keys = parse_signing_keys(pem(ed25519.Ed25519PrivateKey.generate()), "EdDSA")
    assert json.loads(json.dumps(keys.jwks()))["keys"][0]["crv"] == "Ed25519"
