"""The private keys that sign access tokens, and the public keys others verify with.

Other Augeo services must be able to check an access token without being able
to mint one, so tokens are signed with a private key and verified with its
public half, published as a JWK Set. ``JWT_SIGNING_KEYS`` holds one or more
PEM private keys: the first signs, the others are only published (a key about
to take over, or one just retired whose tokens are still alive), which is how
keys rotate without signing anyone out.

Every key's ``kid`` is its RFC 7638 thumbprint, computed once here: it is
derived from the key itself, so two configurations can never disagree about
which key a ``kid`` names, and no key is ever taken from a token.

Nothing in this module puts key material into an exception message or a
``repr``: a configuration error must be safe to print in a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

AsymmetricAlgorithm = Literal["ES256", "EdDSA", "RS256"]
ASYMMETRIC_ALGORITHMS: tuple[AsymmetricAlgorithm, ...] = ("ES256", "EdDSA", "RS256")
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

# NIST SP 800-57 and RFC 7518 §3.3: below 2048 bits an RSA signature is not safe.
MIN_RSA_BITS = 2048
# The size `new-signing-key --algorithm RS256` generates: good well past 2030.
GENERATED_RSA_BITS = 3072

# What `make run` and the test suite write above the keys they generate. PEM
# allows explanatory text before a block (RFC 7468 §5.2); this line lets
# production recognise, and refuse, a key that was made for a laptop.
DEVELOPMENT_MARKER = "Augeo development signing key: never use it in production"

_NEEDS = {
    "ES256": "a P-256 (secp256r1) EC private key",
    "EdDSA": "an Ed25519 private key",
    "RS256": f"an RSA private key of at least {MIN_RSA_BITS} bits",
}
_PRIVATE_LABELS = ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
# An app setting or an azd value is one line: line breaks may arrive as spaces
# or as the two characters backslash-n. Neither can occur in base64.
_ESCAPED_BREAK = re.compile(r"\\[rn]")


class SigningKeyError(ValueError):
    """A configured key is unusable; the message names the key by position, never by content."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One configured key: its id, its halves, its public JWK and where it came from."""

    kid: str
    algorithm: AsymmetricAlgorithm
    private_key: PrivateKey = field(repr=False)
    public_key: PublicKey = field(repr=False)
    jwk: Mapping[str, str] = field(repr=False)
    development: bool = False


@dataclass(frozen=True, slots=True)
class KeySet:
    """The configured keys in order: the first signs, all of them verify and are published."""

    algorithm: AsymmetricAlgorithm
    keys: tuple[SigningKey, ...]
    _by_kid: Mapping[str, SigningKey] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise SigningKeyError("holds no key")
        object.__setattr__(self, "_by_kid", MappingProxyType({key.kid: key for key in self.keys}))

    @property
    def signing(self) -> SigningKey:
        return self.keys[0]

    def verification_key(self, kid: object) -> PublicKey | None:
        """The public key whose thumbprint is ``kid``; None for anything else (never a key from the token)."""
        if not isinstance(kid, str):
            return None
        key = self._by_kid.get(kid)
        return key.public_key if key else None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set (RFC 7517 §5) of every configured key, in order."""
        return {"keys": [dict(key.jwk) for key in self.keys]}

    @property
    def has_development_key(self) -> bool:
        return any(key.development for key in self.keys)


# -- parsing ------------------------------------------------------------------------


def parse_signing_keys(text: str, algorithm: AsymmetricAlgorithm) -> KeySet:
    """Every PEM block of ``text`` as a checked key of ``algorithm``; SigningKeyError otherwise.

    Blocks are simply concatenated (``cat new.pem old.pem``); line breaks may
    be spaces or ``\\n``. Anything between blocks other than white space and
    the development marker is refused: it is most likely a damaged key.
    """
    text = _ESCAPED_BREAK.sub("\n", text)
    blocks = list(_BLOCK.finditer(text))
    if not blocks:
        raise SigningKeyError("holds no PEM private key (-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----)")
    keys = []
    position = 0
    for number, block in enumerate(blocks, start=1):
        development = _is_development(text[position : block.start()], number, len(blocks))
        position = block.end()
        key = _load(block.group(1), block.group(2), number, len(blocks))
        _check_type(key, algorithm, number, len(blocks))
        keys.append(_signing_key(key, algorithm, development))
    if text[position:].strip():
        raise SigningKeyError("has text after its last PEM block")
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise SigningKeyError("lists the same key twice")
    return KeySet(algorithm, tuple(keys))


def _which(number: int, count: int) -> str:
    return "its key" if count == 1 else f"key {number} of {count}"


def _is_development(between: str, number: int, count: int) -> bool:
    rest = between.replace(DEVELOPMENT_MARKER, "")
    if rest.strip():
        raise SigningKeyError(f"has text before {_which(number, count)} that is not part of a PEM block")
    return DEVELOPMENT_MARKER in between


def _load(label: str, body: str, number: int, count: int) -> PrivateKey:
    which = _which(number, count)
    if label == "ENCRYPTED PRIVATE KEY":
        raise SigningKeyError(f"{which} is encrypted: give it unencrypted (Key Vault protects it)")
    if label not in _PRIVATE_LABELS:
        raise SigningKeyError(f"{which} is a {label.lower()}, not a private key")
    compact = "".join(body.split())
    try:
        base64.b64decode(compact, validate=True)
        pem = "\n".join(
            [f"-----BEGIN {label}-----", *re.findall(".{1,64}", compact), f"-----END {label}-----", ""]
        ).encode()
        key = serialization.load_pem_private_key(pem, password=None)
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{which} is not a readable PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise SigningKeyError(f"{which} is of a type no supported algorithm uses")
    return key


def _check_type(key: PrivateKey, algorithm: AsymmetricAlgorithm, number: int, count: int) -> None:
    """Refuse a key the algorithm cannot use: verification must never depend on the key's own say-so."""
    fits = {
        "ES256": isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1),
        "EdDSA": isinstance(key, ed25519.Ed25519PrivateKey),
        "RS256": isinstance(key, rsa.RSAPrivateKey),
    }[algorithm]
    which = _which(number, count)
    if not fits:
        raise SigningKeyError(f"{which} is {_describe(key)}; JWT_ALGORITHM={algorithm} needs {_NEEDS[algorithm]}")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise SigningKeyError(f"{which} is an RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are needed")


def _describe(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"an EC key on curve {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "an Ed25519 key"
    return f"an RSA key of {key.key_size} bits"


# -- JWKs and thumbprints -------------------------------------------------------------


def _signing_key(key: PrivateKey, algorithm: AsymmetricAlgorithm, development: bool) -> SigningKey:
    public = key.public_key()
    required = required_jwk_members(public)
    kid = jwk_thumbprint(required)
    jwk = MappingProxyType({**required, "kid": kid, "alg": algorithm, "use": "sig"})
    return SigningKey(kid, algorithm, key, public, jwk, development)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(value: int) -> bytes:
    """The shortest big-endian bytes of a positive integer (RFC 7518 §6.3.1: no leading zero)."""
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def required_jwk_members(public: PublicKey) -> dict[str, str]:
    """The members RFC 7638 §3.2 hashes: EC crv/kty/x/y, OKP crv/kty/x, RSA e/kty/n."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        size = (public.curve.key_size + 7) // 8  # coordinates are fixed-length (RFC 7518 §6.2.1.2)
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64url(numbers.x.to_bytes(size, "big")),
            "y": _b64url(numbers.y.to_bytes(size, "big")),
        }
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    rsa_numbers = public.public_numbers()
    return {"e": _b64url(_unsigned(rsa_numbers.e)), "kty": "RSA", "n": _b64url(_unsigned(rsa_numbers.n))}


def jwk_thumbprint(members: Mapping[str, str]) -> str:
    """RFC 7638: base64url(SHA-256(the required members as JSON, keys sorted, no white space))."""
    canonical = json.dumps(dict(sorted(members.items())), separators=(",", ":"), ensure_ascii=False)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


# -- new keys -------------------------------------------------------------------------


def new_private_key(algorithm: AsymmetricAlgorithm) -> PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=GENERATED_RSA_BITS)


def new_private_key_pem(algorithm: AsymmetricAlgorithm, *, development: bool = False) -> str:
    """A fresh private key as unencrypted PKCS#8 PEM; marked as a development key when asked."""
    pem = (
        new_private_key(algorithm)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode("ascii")
    )
    return f"{DEVELOPMENT_MARKER}\n{pem}" if development else pem
