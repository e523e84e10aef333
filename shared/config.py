"""Every setting the service reads, declared once and validated at start.

Settings come from the environment: Functions app settings in Azure,
``local.settings.json`` under Core Tools, a ``.env`` file for other local runs.
Nothing else in the project reads ``os.environ`` for configuration; it asks
:func:`get_settings`, which builds the settings once per process.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
EmailBackend = Literal["acs", "file", "console"]
JwtAlgorithm = Literal["HS256", "HS384", "HS512"]
DatabaseAuth = Literal["password", "entra"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_JWT_SECRET_LENGTH = 32
_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]*")


class ConfigurationError(RuntimeError):
    """Raised when the environment holds an invalid or missing setting."""


class Settings(BaseSettings):
    """The whole configuration of the service; field ``x`` is read from env ``X``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
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

    # Redis
    redis_url: str
    redis_max_connections: int = Field(default=8, ge=1, le=200)
    redis_socket_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    redis_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    # Tokens and sessions
    jwt_secret_key: str = Field(repr=False)
    jwt_algorithm: JwtAlgorithm = "HS256"
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
    invitation_token_expire_hours: int = Field(default=72, ge=1, le=24 * 30)

    # HTTP
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    frontend_admin_url: str = "http://localhost:3000"
    frontend_donor_url: str = "http://localhost:3001"

    # Email
    email_backend: EmailBackend = "console"
    email_file_dir: Path = Path(".emails")
    email_sender: str = "DoNotReply@augeo.local"
    acs_connection_string: str | None = Field(default=None, repr=False)
    acs_endpoint: str | None = None
    email_max_attempts: int = Field(default=8, ge=1, le=50)

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
    rate_limit_password_change_per_user: int = Field(default=5, ge=1)
    rate_limit_password_change_per_user_window_seconds: int = Field(default=900, ge=1)

    @field_validator("jwt_secret_key")
    @classmethod
    def _secret_is_long_enough(cls, value: str) -> str:
        if len(value.encode("utf-8")) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_JWT_SECRET_LENGTH} bytes long")
        return value

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _database_url_is_pg8000(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        has_host = bool(parts.hostname) or "unix_sock=" in parts.query
        if parts.scheme != "postgresql+pg8000" or not has_host or not parts.path.strip("/"):
            raise ValueError("must look like postgresql+pg8000://user:password@host:port/database")
        return value

    @field_validator("db_app_role")
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

    @field_validator("rate_limit_trusted_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for part in (part.strip() for part in value.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a network like 10.20.0.0/16 (no host bits set)") from None
        return networks

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_urls(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.hostname):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.org")
        return origins

    @model_validator(mode="after")
    def _production_database_uses_tls(self) -> Settings:
        if self.environment == "production" and self.db_ssl == "disable" and not _is_local(self.database_url):
            raise ValueError("DB_SSL must be require or verify-full for a remote database in production")
        return self

    @model_validator(mode="after")
    def _entra_sign_in_is_a_token_over_tls(self) -> Settings:
        """The token is the password: DATABASE_URL carries none, and it never travels in clear."""
        if self.db_auth != "entra":
            return self
        if urlsplit(self.database_url).password is not None:
            raise ValueError("DATABASE_URL must carry no password with DB_AUTH=entra (the password is a token)")
        if self.db_ssl == "disable" and not _is_local(self.database_url):
            raise ValueError("DB_AUTH=entra needs DB_SSL require or verify-full: a token never travels in clear")
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
    def owner_database_url(self) -> str:
        """Where migrations run: MIGRATION_DATABASE_URL, else DATABASE_URL (one role for both)."""
        return self.migration_database_url or self.database_url


def _is_local(database_url: str) -> bool:
    host = urlsplit(database_url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or "unix_sock=" in database_url


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


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus overrides), naming any bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use and then reused."""
    return load_settings()
