"""The settings of a test run, and running a block with some of them changed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


def use_test_settings() -> None:
    """ENVIRONMENT=test and what it needs that no server gives, before any of the app's
    modules reads a setting: keys made for this run, cheap password hashing, an origin.

    A fresh signing key per session (the default ES256), and an HS256 secret for the
    tests of that family. Most tests sign admins in and act at once, so the second
    factor is required of nobody; the admin modules run with production's default
    (``second_factor_required_as_in_production``), test_mfa turns it on too.
    """
    os.environ["ENVIRONMENT"] = "test"
    from shared.security.encryption import new_key
    from shared.security.signing_keys import new_private_key_pem

    os.environ.setdefault("JWT_SIGNING_KEYS", new_private_key_pem("ES256", development=True))
    os.environ.setdefault("JWT_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("DATA_ENCRYPTION_KEYS", new_key())
    os.environ.setdefault("MFA_REQUIRED_ROLES", "")
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    os.environ.setdefault("CORS_ORIGINS", "http://localhost:3000")


def reset_clients() -> None:
    """Drop the process-wide settings and clients, so the next use builds them from the environment."""
    from shared.config import get_settings
    from shared.database import dispose_engine
    from shared.redis_client import reset_redis
    from shared.services.email.backends import get_backend

    get_settings.cache_clear()
    get_backend.cache_clear()
    dispose_engine()
    reset_redis()


def _set_environment(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def settings_changed(**env: str | None) -> Iterator[None]:
    """Run with some settings changed (None: unset, so the default applies); process-wide
    clients are rebuilt around it."""
    saved = {name: os.environ.get(name) for name in env}
    _set_environment(env)
    reset_clients()
    try:
        yield
    finally:
        _set_environment(saved)
        reset_clients()


def production_settings(**extra: str) -> dict[str, str]:
    """Settings under which the app runs as in production (for :func:`settings_changed`):
    what production refuses otherwise is set as an operator would set it. The second
    factor stays off, as in the rest of the suite, but said so (production refuses it empty)."""
    from shared.security.signing_keys import new_private_key_pem

    return {
        "ENVIRONMENT": "production",
        "BCRYPT_ROUNDS": "12",
        "JWT_SIGNING_KEYS": new_private_key_pem("ES256"),  # an operator's key, not a development one
        "CORS_ORIGINS": "https://admin.example.org",
        "FRONTEND_ADMIN_URL": "https://admin.example.org",
        "FRONTEND_DONOR_URL": "https://donate.example.org",
        "MFA_REQUIRED_ROLES": "none",
        **extra,
    }
