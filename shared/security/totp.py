"""Time-based one-time passwords (RFC 6238) and recovery codes.

Six digits, 30-second steps, one step of clock drift either way. A code is
accepted once: the caller records the step it matched and passes it back as
``after_step``, so the same code (or an older one) never works again.
Recovery codes are 80 random bits, shown once, stored as salted SHA-256: far
beyond guessing even for someone who reads the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by people


def new_secret() -> str:
    """A base32 secret of 160 bits (the RFC's recommended length for SHA-1)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code the admin app can show inline."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def step_at(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def matching_step(secret: str, code: str, unix_time: float, after_step: int | None) -> int | None:
    """The step ``code`` belongs to (now, or one step either side), if newer than ``after_step``."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = step_at(unix_time)
    for step in (now, now - DRIFT_STEPS, now + DRIFT_STEPS):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like ``7KQM-2XVA-RT9P-HC4W`` (80 bits each)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_code_hash(user_id: uuid.UUID, code: str) -> str:
    """How a recovery code is stored and looked up: dashes, spaces and case do not matter."""
    normalized = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(f"{user_id}:{normalized}".encode()).hexdigest()
