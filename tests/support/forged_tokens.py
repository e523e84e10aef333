"""Tokens built by hand, as an attacker would send them (PyJWT refuses to build most of these)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64url(data: dict[str, Any] | bytes) -> str:
    """A JWT segment: base64url without padding, of ``data`` or of its JSON."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256_by_hand(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """An HS256 token signed with ``secret`` (a public key's PEM, for algorithm confusion)."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    return signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token with an empty signature (``alg: none``)."""
    return f"{b64url(header)}.{b64url(payload)}."
