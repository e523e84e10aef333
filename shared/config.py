"""Every setting the service reads, declared once and validated at start.

Settings come from the environment: Functions app settings in Azure,
``local.settings.json`` under Core Tools, a ``.env`` file for other local runs.
Nothing else in the project reads ``os.environ`` for configuration; it asks
:func:`get_settings`, which builds the settings once per process.

Who asks: the public entry points, once each (the service a trigger calls,
a timer, a CLI command, the request pipeline, the process-wide clients built
on first use). Everything they call receives ``settings: Settings`` as an
argument and never asks itself, so a test can call it with other settings.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.roles_and_permissions import RoleName
from shared.security.signing_keys import ASYMMETRIC_ALGORITHMS, KeySet, SigningKeyError, parse_signing_keys

Environment = Literal["development", "test", "production"]
EmailBackend = Literal["acs", "file", "console"]
# Asymmetric first: other services verify with the public key and cannot mint
# tokens. HS* (one shared secret) is for a single service that verifies its own.
JwtAlgorithm = Literal["ES256", "EdDSA", "RS256", "HS256", "HS384", "HS512"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DatabaseAuth = Literal["password", "entra"]
_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]*")
# A cookie name: an RFC 6265 token of the characters every browser keeps as they are.
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SECURE_COOKIE_PREFIX = "__Secure-"
FERNET_KEY_BYTES = 32
# MFA_REQUIRED_ROLES=none: no role must have a second factor.
NO_ROLES = "none"
# A page of a web app: "/" and the characters of a URL path (RFC 3986), never "//"
# (a host to a browser) and no "?", "#", white space or backslash (which browsers read as "/").
_PAGE_PATH = re.compile(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
# CORS_ORIGINS in development when it is not set: the usual ports of the web
# apps' dev servers (Vite's 5173, then 3000 and 3001 for the admin and donor apps).
DEVELOPMENT_CORS_ORIGINS = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://localhost:3001",
)


class ConfigurationError(RuntimeError):
    """Raised when the environment holds an invalid or missing setting."""


def _comma_list(value: str) -> list[str]:
    """The non-empty items of a comma-separated setting, stripped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _default_cors_origins(data: dict[str, object]) -> list[str]:
    return list(DEVELOPMENT_CORS_ORIGINS) if data.get("environment") == "development" else []


class Settings(BaseSettings):
    """The whole configuration of the service; field ``x`` is read from env ``X``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        arbitrary_types_allowed=True,  # JWT_SIGNING_KEYS is parsed once into a KeySet
    )

    # Runtime
    environment: Environment = "production"
    app_version: str = "0.1.0"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # PostgreSQL (through PgBouncer on port 6432 in Azure). DATABASE_URL is the
    # app's own connection: the runtime role, which owns nothing. Migrations run
    # as the owner (MIGRATION_DATABASE_URL) and grant the runtime role its rights.
    database_url: str
    migration_database_url: str | None = Field(default=None, repr=False)
    db_app_role: str = Field(default="augeo_app", min_length=1, max_length=63)
    # "entra": the password is a Microsoft Entra token of the app's managed
    # identity, fetched for every new connection (DATABASE_URL has no password).
    db_auth: DatabaseAuth = "password"
    db_entra_client_id: str | None = None
    db_pool_size: int = Field(default=2, ge=1, le=20)
    db_max_overflow: int = Field(default=2, ge=0, le=20)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    db_pool_recycle_seconds: int = Field(default=300, ge=30)
    # A hung server (accepts TCP, never answers) costs at most one ping and one
    # connect: DB_PING_TIMEOUT_SECONDS + DB_CONNECT_TIMEOUT_SECONDS (2.5 s).
    db_connect_timeout_seconds: float = Field(default=1.5, gt=0, le=60)
    db_ping_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    db_ping_after_idle_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Limits of the runtime role, set on the role in the server (ALTER ROLE ...
    # SET; never per connection, PgBouncer pools in transaction mode).
    db_statement_timeout_seconds: float = Field(default=5.0, ge=0.1, le=600)
    db_idle_in_transaction_timeout_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    # TLS to PostgreSQL: "verify-full" checks the certificate and host name
    # (Azure); "disable" is for local servers and sockets only.
    db_ssl: Literal["disable", "require", "verify-full"] = "disable"
    # The retention job's own connection, as a role of that job only
    # (DB_RETENTION_ROLE): it may delete what is past its age, and purge the
    # audit log through the one function that may. The app never uses it.
    retention_database_url: str | None = Field(default=None, repr=False)
    db_retention_role: str = Field(default="augeo_retention", min_length=1, max_length=63)
    db_retention_entra_client_id: str | None = None

    # Redis
    redis_url: str
    redis_max_connections: int = Field(default=8, ge=1, le=200)
    redis_socket_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    redis_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    # Tokens and sessions. JWT_ALGORITHM comes first: the key settings are
    # validated against it. JWT_SIGNING_KEYS (ES256, EdDSA, RS256) holds PEM
    # private keys, the first signing, the rest only published; JWT_SECRET_KEY
    # is the shared secret of HS256/384/512. Each is ignored by the other family.
    jwt_algorithm: JwtAlgorithm = "ES256"
    jwt_signing_keys: Annotated[KeySet | None, NoDecode] = Field(default=None, repr=False, validate_default=True)
    jwt_secret_key: str | None = Field(default=None, repr=False, validate_default=True)
    jwks_cache_seconds: int = Field(default=300, ge=0, le=24 * 3600)
    jwt_issuer: str = Field(default="augeo-platform-api", min_length=1)
    jwt_audience: str = Field(default="augeo-platform", min_length=1)
    access_token_expire_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_expire_days: int = Field(default=7, ge=1, le=90)
    refresh_token_reuse_grace_seconds: int = Field(default=10, ge=0, le=120)
    session_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_sessions_per_user: int = Field(default=10, ge=1)
    jwt_leeway_seconds: int = Field(default=5, ge=0, le=60)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    email_verification_token_expire_hours: int = Field(default=24, ge=1, le=168)
    password_reset_token_expire_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # An invitation (its link) expires this long after it was sent or last re-sent.
    invitation_expire_days: int = Field(default=7, ge=1, le=90)

    # HTTP
    # Unset in development: DEVELOPMENT_CORS_ORIGINS, so a web app on its dev
    # server can call `make run` as it is; elsewhere no origin unless named.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=_default_cors_origins)
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The cookie of the cookie transport of refresh tokens (HttpOnly, Secure,
    # SameSite=Strict, Path=/api/v1/auth). ``__Secure-``: a browser keeps it
    # only when it was set over HTTPS with Secure (Chromium counts
    # http://localhost as secure, so development uses the same name).
    refresh_cookie_name: str = SECURE_COOKIE_PREFIX + "augeo_refresh"
    frontend_admin_url: str = "http://localhost:3000"
    frontend_donor_url: str = "http://localhost:3001"
    # The pages email links open on those apps, each with the token as ?token=
    # (docs/api.md, "Email link pages").
    frontend_verify_email_path: str = "/verify-email"
    frontend_reset_password_path: str = "/reset-password"
    frontend_accept_invitation_path: str = "/accept-invitation"

    # Email
    email_backend: EmailBackend = "console"
    email_file_dir: Path = Path(".emails")
    email_sender: str = "DoNotReply@augeo.local"
    acs_connection_string: str | None = Field(default=None, repr=False)
    acs_endpoint: str | None = None
    # A message without a link (password changed, new device) is retried this
    # long after it was queued, then marked failed; one with a link is retried
    # until the link expires. `python -m shared.cli redrive-email` re-queues both.
    email_give_up_after_hours: int = Field(default=24, ge=1, le=24 * 7)

    # First super admin (created by `python -m shared.cli create-super-admin`)
    super_admin_email: str | None = None
    super_admin_password: str | None = Field(default=None, repr=False)
    super_admin_first_name: str = "Platform"
    super_admin_last_name: str = "Admin"

    # Abuse limits: attempts per window (seconds)
    rate_limit_login_per_ip: int = Field(default=5, ge=1)
    rate_limit_login_per_ip_window_seconds: int = Field(default=900, ge=1)
    rate_limit_login_per_account: int = Field(default=20, ge=1)
    rate_limit_login_per_account_window_seconds: int = Field(default=900, ge=1)
    rate_limit_register_per_ip: int = Field(default=10, ge=1)
    rate_limit_register_per_ip_window_seconds: int = Field(default=3600, ge=1)
    rate_limit_email_per_ip: int = Field(default=10, ge=1)
    rate_limit_email_per_ip_window_seconds: int = Field(default=3600, ge=1)
    rate_limit_email_per_address: int = Field(default=3, ge=1)
    rate_limit_email_per_address_window_seconds: int = Field(default=3600, ge=1)
    rate_limit_resend_cooldown_seconds: int = Field(default=300, ge=1)
    rate_limit_login_success_per_account: int = Field(default=20, ge=1)
    rate_limit_login_success_per_account_window_seconds: int = Field(default=3600, ge=1)
    rate_limit_token_per_ip: int = Field(default=20, ge=1)
    rate_limit_token_per_ip_window_seconds: int = Field(default=900, ge=1)
    rate_limit_refresh_per_ip: int = Field(default=100, ge=1)
    rate_limit_refresh_per_ip_window_seconds: int = Field(default=900, ge=1)
    # Networks many people share (a venue, an office): per-IP limits that name
    # an account or address count per (address, account) there instead.
    rate_limit_trusted_networks: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    # There, a ceiling per address across accounts on password checks that open no session
    # (spraying): a 1,000-guest gala with one mistyped or abandoned sign-in in four, all in
    # the busiest quarter hour, stays under it; successful sign-ins never count.
    rate_limit_login_per_trusted_ip: int = Field(default=300, ge=1)
    rate_limit_login_per_trusted_ip_window_seconds: int = Field(default=900, ge=1)
    rate_limit_password_change_per_user: int = Field(default=5, ge=1)
    rate_limit_password_change_per_user_window_seconds: int = Field(default=900, ge=1)
    # Permission checks per user: a service asks on a user's behalf, at most a few a second.
    rate_limit_authz_check_per_user: int = Field(default=600, ge=1)
    rate_limit_authz_check_per_user_window_seconds: int = Field(default=60, ge=1)
    # Invitations an administrator sends (new ones and re-sends), per administrator.
    rate_limit_invitations_per_user: int = Field(default=50, ge=1)
    rate_limit_invitations_per_user_window_seconds: int = Field(default=3600, ge=1)

    # Retention: the job deletes what is older than this, each age counted from
    # when the thing ended (a session revoked or expired, a token spent or expired).
    session_retention_days: int = Field(default=90, ge=1, le=3650)
    email_token_retention_days: int = Field(default=7, ge=1, le=3650)
    email_outbox_retention_days: int = Field(default=30, ge=1, le=3650)
    # The database function refuses to purge anything younger than 90 days.
    audit_log_retention_days: int = Field(default=400, ge=90, le=3650)

    # Second factor and recent authentication. MFA_REQUIRED_ROLES: users of
    # these roles must enrol a second factor before using the API; "none":
    # nobody (empty means nobody too, except in production, which wants it said).
    mfa_required_roles: Annotated[list[RoleName], NoDecode] = Field(
        default_factory=lambda: [RoleName.SUPER_ADMIN, RoleName.NPO_ADMIN]
    )
    mfa_issuer: str = Field(default="Augeo", min_length=1, max_length=64)
    reauth_max_age_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # Fernet keys (comma list): the first encrypts secrets kept at rest (TOTP
    # secrets), every one decrypts. `python -m shared.cli new-encryption-key`.
    data_encryption_keys: Annotated[list[str], NoDecode] = Field(repr=False)

    @field_validator("jwt_signing_keys", mode="before")
    @classmethod
    def _signing_keys_fit_the_algorithm(cls, value: object, info: ValidationInfo) -> object:
        """Parse and check every key once, at start; a bad key stops the app naming this setting."""
        algorithm = info.data.get("jwt_algorithm")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            return None  # HS* signs with JWT_SECRET_KEY (or JWT_ALGORITHM itself is invalid, and says so)
        if isinstance(value, KeySet) and value.algorithm == algorithm:
            return value
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(
                f"is required for JWT_ALGORITHM={algorithm} "
                f"(generate a key with: python -m shared.cli new-signing-key --algorithm {algorithm})"
            )
        if not isinstance(value, str):
            raise ValueError("must be PEM text")
        try:
            return parse_signing_keys(value, algorithm)
        except SigningKeyError as error:
            raise ValueError(str(error)) from None

    @field_validator("jwt_secret_key")
    @classmethod
    def _secret_fits_its_hash(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An HMAC key shorter than the hash output weakens it (RFC 7518 §3.2)."""
        algorithm = info.data.get("jwt_algorithm")
        if algorithm not in HMAC_KEY_BYTES:
            return value
        if not value:
            raise ValueError(f"is required for JWT_ALGORITHM={algorithm}")
        needed = HMAC_KEY_BYTES[algorithm]
        if len(value.encode("utf-8")) < needed:
            raise ValueError(f"must be at least {needed} bytes long for {algorithm}")
        return value

    @field_validator("database_url", "migration_database_url", "retention_database_url")
    @classmethod
    def _database_url_is_pg8000(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        has_host = bool(parts.hostname) or "unix_sock=" in parts.query
        if parts.scheme != "postgresql+pg8000" or not has_host or not parts.path.strip("/"):
            raise ValueError("must look like postgresql+pg8000://user:password@host:port/database")
        return value

    @field_validator("db_app_role", "db_retention_role")
    @classmethod
    def _role_name_is_plain(cls, value: str) -> str:
        # Quoted as an identifier in GRANT and ALTER ROLE; managed identity names
        # carry hyphens, Entra user names '@' and '.'.
        if not _ROLE_NAME.fullmatch(value):
            raise ValueError("must be a role name of letters, digits and _ . @ - only")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_redis(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ValueError("must look like redis://host:port/0, rediss://... or unix:///path")
        return value

    @field_validator("frontend_admin_url", "frontend_donor_url", "acs_endpoint")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator(
        "frontend_verify_email_path",
        "frontend_reset_password_path",
        "frontend_accept_invitation_path",
    )
    @classmethod
    def _is_page_path(cls, value: str) -> str:
        """Only a path: the link's scheme and host are the app's URL, and the query is the token's."""
        if not _PAGE_PATH.fullmatch(value):
            raise ValueError("must be a path like /reset-password (no scheme, host, query, fragment or space)")
        return value

    @field_validator("refresh_cookie_name")
    @classmethod
    def _cookie_name_is_plain(cls, value: str) -> str:
        if not _COOKIE_NAME.fullmatch(value):
            raise ValueError("must be 1 to 64 letters, digits and _ . - (a cookie name)")
        if value.lower().startswith("__host-"):
            # __Host- cookies must have Path=/; this one is scoped to the auth routes.
            raise ValueError("cannot use the __Host- prefix (the cookie's Path is /api/v1/auth)")
        return value

    @field_validator("rate_limit_trusted_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for part in _comma_list(value):
            try:
                networks.append(ipaddress.ip_network(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a network like 10.20.0.0/16 (no host bits set)") from None
        return networks

    @field_validator("data_encryption_keys", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        return _comma_list(value) if isinstance(value, str) else value

    @field_validator("mfa_required_roles", mode="before")
    @classmethod
    def _roles_or_none(cls, value: object, info: ValidationInfo) -> object:
        """Turning second factors off is said, not left empty: an unset list in a
        production template would otherwise quietly let every admin in on a password."""
        roles = _comma_list(value) if isinstance(value, str) else value
        if roles == [NO_ROLES]:
            return []
        if isinstance(roles, list) and NO_ROLES in roles:
            raise ValueError(f"{NO_ROLES!r} stands alone: it means nobody")
        if roles == [] and info.data.get("environment") == "production":
            raise ValueError(f"is empty: production requires it to name roles, or to say {NO_ROLES} to turn it off")
        return roles

    @field_validator("data_encryption_keys")
    @classmethod
    def _fernet_keys(cls, keys: list[str]) -> list[str]:
        if not keys:
            raise ValueError("needs at least one key (python -m shared.cli new-encryption-key)")
        for position, key in enumerate(keys, start=1):
            try:
                raw = base64.urlsafe_b64decode(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raw = b""
            if len(raw) != FERNET_KEY_BYTES:
                raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64 bytes)")
        return keys

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        return [origin.rstrip("/") for origin in _comma_list(value)] if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_urls(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.hostname):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.org")
        return origins

    @model_validator(mode="after")
    def _production_is_locked_down(self) -> Settings:
        if self.is_production:
            problems = production_problems(self)
            if problems:
                raise ValueError("production refuses: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _entra_sign_in_is_a_token_over_tls(self) -> Settings:
        """The token is the password: DATABASE_URL carries none, and it never travels in clear."""
        if self.db_auth != "entra":
            return self
        for name, url in (("DATABASE_URL", self.database_url), ("RETENTION_DATABASE_URL", self.retention_database_url)):
            if url is None:
                continue
            if urlsplit(url).password is not None:
                raise ValueError(f"{name} must carry no password with DB_AUTH=entra (the password is a token)")
            if self.db_ssl == "disable" and not _is_local_database(url):
                raise ValueError("DB_AUTH=entra needs DB_SSL require or verify-full: a token never travels in clear")
        return self

    @model_validator(mode="after")
    def _retention_role_is_not_the_app(self) -> Settings:
        """The app must never hold the retention job's rights (the audit log's purge)."""
        if self.db_retention_role == self.db_app_role:
            raise ValueError("DB_RETENTION_ROLE must differ from DB_APP_ROLE")
        return self

    @model_validator(mode="after")
    def _acs_backend_has_credentials(self) -> Settings:
        if self.email_backend == "acs" and not (self.acs_connection_string or self.acs_endpoint):
            raise ValueError("EMAIL_BACKEND=acs needs ACS_CONNECTION_STRING or ACS_ENDPOINT")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def jwt_is_symmetric(self) -> bool:
        """HS256/384/512: one shared secret signs and verifies; nothing is published."""
        return self.jwt_algorithm in HMAC_KEY_BYTES

    @property
    def owner_database_url(self) -> str:
        """Where migrations run: MIGRATION_DATABASE_URL, else DATABASE_URL (one role for both)."""
        return self.migration_database_url or self.database_url


# An HMAC key shorter than the hash output weakens it (RFC 7518 §3.2).
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# Words that mark a value copied from an example rather than generated.
_PLACEHOLDER_WORDS = ("replace", "example", "changeme", "change-me", "placeholder", "your-", "secret-key", "xxxx")
# About 128 bits: what `secrets.token_urlsafe(32)` gives, and far beyond a human-typed phrase.
_MIN_SECRET_BITS = 128
_MIN_BCRYPT_ROUNDS_IN_PRODUCTION = 12


def _estimated_bits(value: str) -> float:
    """Shannon entropy of the characters times the length: low for repeats and short phrases."""
    counts = [value.count(char) for char in set(value)]
    per_char = -sum(count / len(value) * math.log2(count / len(value)) for count in counts)
    return per_char * len(value)


def weak_secret(value: str) -> str | None:
    """Why ``value`` cannot be a production secret, or None when it looks generated."""
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "a placeholder or example value"
    if _estimated_bits(value) < _MIN_SECRET_BITS:
        return "too little randomness (generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    return None


def _is_local(host: str) -> bool:
    """This machine: localhost (and names under it), 127.0.0.0/8, ::1."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_public_https(url: str) -> bool:
    """An https URL of a host that is not this machine nor a name of the local network (.local)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    return parts.scheme == "https" and not _is_local(host) and not (host == "local" or host.endswith(".local"))


def production_problems(settings: Settings) -> list[str]:
    """Every setting production refuses: each would make a deployment quietly unsafe."""
    problems = _token_key_problems(settings)
    for name, url in (
        ("FRONTEND_ADMIN_URL", settings.frontend_admin_url),
        ("FRONTEND_DONOR_URL", settings.frontend_donor_url),
    ):
        if not _is_public_https(url):
            problems.append(f"{name} must be an https URL of a host that is not local (emailed links open it)")
    remote = [url for url in (settings.database_url, settings.retention_database_url) if url]
    if any(not _is_local_database(url) for url in remote) and settings.db_ssl != "verify-full":
        problems.append("DB_SSL must be verify-full for a remote database")
    redis = urlsplit(settings.redis_url)
    if redis.scheme == "redis" and not _is_local(redis.hostname or ""):
        problems.append("REDIS_URL must use rediss:// (TLS) for a remote Redis")
    if "*" in settings.cors_origins:
        problems.append("CORS_ORIGINS must name the web apps' origins, not *")
    if not settings.refresh_cookie_name.startswith(SECURE_COOKIE_PREFIX):
        problems.append(f"REFRESH_COOKIE_NAME must start with {SECURE_COOKIE_PREFIX} (only HTTPS may set it)")
    if settings.bcrypt_rounds < _MIN_BCRYPT_ROUNDS_IN_PRODUCTION:
        problems.append(f"BCRYPT_ROUNDS must be at least {_MIN_BCRYPT_ROUNDS_IN_PRODUCTION}")
    return problems


def _token_key_problems(settings: Settings) -> list[str]:
    """A key made on a laptop, or a guessable secret, would let anyone who has it sign in as anyone."""
    if settings.jwt_is_symmetric:
        why = weak_secret(settings.jwt_secret_key or "")
        return [f"JWT_SECRET_KEY is {why}"] if why else []
    keys = settings.jwt_signing_keys
    if keys is not None and keys.has_development_key:
        return ["JWT_SIGNING_KEYS holds a development key (generated by make run or the tests)"]
    return []


def _is_local_database(database_url: str) -> bool:
    return _is_local(urlsplit(database_url).hostname or "") or "unix_sock=" in database_url


def _describe(error: ValidationError) -> str:
    """Turn pydantic's error list into one line per setting, named as in the env."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]).upper() or "SETTINGS"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required but not set"
        lines.append(f"{name}: {message}")
    return "Invalid configuration: " + "; ".join(lines)


# Where a .env file may supply settings. It must be the real environment that
# says so: a stray .env shipped to production would otherwise override nothing
# visible and everything important.
_ENV_FILE_ENVIRONMENTS = ("development", "test")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus overrides), naming any bad setting.

    ``.env`` is read only when ENVIRONMENT (from the process environment) is
    development or test.
    """
    reads_env_file = os.environ.get("ENVIRONMENT", "production").lower() in _ENV_FILE_ENVIRONMENTS
    try:
        return Settings(_env_file=".env" if reads_env_file else None, **overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use and then reused."""
    return load_settings()
