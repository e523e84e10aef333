"""Settings: defaults, parsing and errors that name the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import DEVELOPMENT_CORS_ORIGINS, ConfigurationError, Settings, load_settings
from shared.security.signing_keys import new_private_key_pem
from tests.support import ROOT

# A key made the way operators make one (not marked as a development key).
SIGNING_KEY = new_private_key_pem("ES256")
VALID = {
    "database_url": "postgresql+pg8000://u:p@db.example.org:5432/augeo",
    "redis_url": "rediss://cache.example.org:10000/0",
    "jwt_signing_keys": SIGNING_KEY,
    "retention_database_url": None,  # not the suite's own (whose embedded server's URLs carry passwords)
}
# The single-service family: one shared secret.
HS256 = {"jwt_algorithm": "HS256", "jwt_secret_key": "0f8Jq2Lx-V7nRk3Zs9Wb_T4mYc6Hd1Ug5Pe2Ao8Ni0"}
# What a production deployment looks like when every setting is as it should be.
PRODUCTION = {
    **VALID,
    "environment": "production",
    "db_ssl": "verify-full",
    "bcrypt_rounds": 12,
    "frontend_admin_url": "https://admin.example.org",
    "frontend_donor_url": "https://donate.example.org",
    "mfa_required_roles": "super_admin,npo_admin",
}


def settings(**changes: object) -> Settings:
    return load_settings(**{**VALID, **changes})


def test_defaults_follow_the_design() -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["jwt_algorithm"] == "ES256"
    assert defaults["jwks_cache_seconds"] == 300
    assert defaults["access_token_expire_minutes"] == 15
    assert defaults["refresh_token_expire_days"] == 7
    assert defaults["refresh_token_reuse_grace_seconds"] == 10
    assert defaults["session_idle_timeout_minutes"] == 30
    assert defaults["bcrypt_rounds"] == 12
    assert defaults["db_pool_size"] + defaults["db_max_overflow"] <= 4
    assert defaults["rate_limit_login_per_ip"] == 5
    assert defaults["rate_limit_login_per_ip_window_seconds"] == 900
    assert defaults["refresh_cookie_name"] == "__Secure-augeo_refresh"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({**HS256, "jwt_secret_key": "short"}, "JWT_SECRET_KEY"),
        ({"jwt_signing_keys": "not a key"}, "JWT_SIGNING_KEYS"),
        ({"jwt_signing_keys": new_private_key_pem("EdDSA")}, "JWT_SIGNING_KEYS"),
        ({"jwt_algorithm": "EdDSA"}, "JWT_SIGNING_KEYS"),
        ({"jwks_cache_seconds": -1}, "JWKS_CACHE_SECONDS"),
        ({"database_url": "mysql://db/augeo"}, "DATABASE_URL"),
        ({"database_url": "postgresql+pg8000://"}, "DATABASE_URL"),
        ({"redis_url": "http://cache"}, "REDIS_URL"),
        ({"email_backend": "smtp"}, "EMAIL_BACKEND"),
        ({"frontend_admin_url": "not a url"}, "FRONTEND_ADMIN_URL"),
        ({"cors_origins": "https://ok.example.org,ftp://bad"}, "CORS_ORIGINS"),
        ({"refresh_cookie_name": "augeo refresh"}, "REFRESH_COOKIE_NAME"),
        ({"refresh_cookie_name": "augeo=refresh"}, "REFRESH_COOKIE_NAME"),
        ({"refresh_cookie_name": ""}, "REFRESH_COOKIE_NAME"),
        ({"refresh_cookie_name": "__Host-augeo_refresh"}, "REFRESH_COOKIE_NAME"),
        ({"bcrypt_rounds": 3}, "BCRYPT_ROUNDS"),
        ({"jwt_algorithm": "none"}, "JWT_ALGORITHM"),
        ({"environment": "staging"}, "ENVIRONMENT"),
    ],
)
def test_invalid_setting_is_named(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        settings(**changes)
    assert named in str(raised.value)


def test_missing_required_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SIGNING_KEYS", raising=False)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    urls = {"database_url": VALID["database_url"], "redis_url": VALID["redis_url"]}
    with pytest.raises(ConfigurationError, match="JWT_SIGNING_KEYS: is required for JWT_ALGORITHM=ES256"):
        load_settings(**urls)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY: is required for JWT_ALGORITHM=HS256"):
        load_settings(**urls, jwt_algorithm="HS256")


def test_each_family_needs_only_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """JWT_SECRET_KEY is for HS* only, JWT_SIGNING_KEYS for the rest; the other one is ignored."""
    monkeypatch.delenv("JWT_SIGNING_KEYS", raising=False)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    es256 = settings(jwt_secret_key="short")
    assert es256.jwt_secret_key == "short" and es256.jwt_signing_keys is not None
    hs256 = settings(**{**HS256, "jwt_signing_keys": "not even a key"})
    assert hs256.jwt_signing_keys is None and hs256.jwt_is_symmetric


def test_secret_never_appears_in_errors_or_repr() -> None:
    secret = "do-not-print-this-secret-value-0123456789"
    s = settings(**{**HS256, "jwt_secret_key": secret})
    assert secret not in repr(s)
    with pytest.raises(ConfigurationError) as raised:
        settings(**{**HS256, "jwt_secret_key": "tiny-secret"})
    assert "tiny-secret" not in str(raised.value)
    key_body = SIGNING_KEY.splitlines()[1]
    assert key_body not in repr(settings())


def test_cors_origins_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://admin.example.org, https://donate.example.org/ ,")
    s = load_settings(**VALID)
    assert s.cors_origins == ["https://admin.example.org", "https://donate.example.org"]


def test_unset_cors_origins_are_the_dev_servers_in_development_and_none_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    assert settings(environment="development").cors_origins == list(DEVELOPMENT_CORS_ORIGINS)
    assert settings(environment="test").cors_origins == []
    assert settings(**PRODUCTION).cors_origins == []
    monkeypatch.setenv("CORS_ORIGINS", "https://admin.example.org")
    assert settings(environment="development").cors_origins == ["https://admin.example.org"]
    monkeypatch.setenv("CORS_ORIGINS", "")
    assert settings(environment="development").cors_origins == []  # set, to nothing


def test_acs_backend_needs_credentials() -> None:
    with pytest.raises(ConfigurationError, match="ACS_CONNECTION_STRING"):
        settings(email_backend="acs")
    assert settings(email_backend="acs", acs_endpoint="https://x.communication.azure.com").email_backend == "acs"


def test_unix_socket_database_url_is_accepted() -> None:
    url = "postgresql+pg8000://postgres@localhost/augeo?unix_sock=/tmp/.s.PGSQL.5432"
    assert settings(database_url=url).database_url == url


def test_production_refuses_plaintext_to_a_remote_database() -> None:
    with pytest.raises(ConfigurationError, match="DB_SSL"):
        settings(**{**PRODUCTION, "db_ssl": "disable"})
    with pytest.raises(ConfigurationError, match="DB_SSL"):
        settings(**{**PRODUCTION, "db_ssl": "require"})
    assert settings(**PRODUCTION).db_ssl == "verify-full"
    local = "postgresql+pg8000://postgres@127.0.0.1:5432/augeo"
    assert settings(**{**PRODUCTION, "database_url": local, "db_ssl": "disable"}).db_ssl == "disable"


def _example_values() -> dict[str, str]:
    values: dict[str, str] = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    return values


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({**HS256, "jwt_secret_key": "a" * 64}, "JWT_SECRET_KEY"),
        ({**HS256, "jwt_secret_key": "gala-night-gala-night-gala-night-2026"}, "JWT_SECRET_KEY"),
        ({**HS256, "jwt_secret_key": "replace-with-output-of-python-secrets-token-urlsafe-48"}, "JWT_SECRET_KEY"),
        ({"jwt_signing_keys": new_private_key_pem("ES256", development=True)}, "JWT_SIGNING_KEYS"),
        ({"jwt_signing_keys": SIGNING_KEY + new_private_key_pem("ES256", development=True)}, "JWT_SIGNING_KEYS"),
        ({"redis_url": "redis://cache.example.org:6379/0"}, "REDIS_URL"),
        ({"cors_origins": "*"}, "CORS_ORIGINS"),
        ({"bcrypt_rounds": 10}, "BCRYPT_ROUNDS"),
        ({"frontend_admin_url": "http://admin.example.org"}, "FRONTEND_ADMIN_URL"),
        ({"frontend_admin_url": "https://localhost:3000"}, "FRONTEND_ADMIN_URL"),
        ({"frontend_donor_url": "http://localhost:3001"}, "FRONTEND_DONOR_URL"),
        ({"frontend_donor_url": "https://127.0.0.2"}, "FRONTEND_DONOR_URL"),
        ({"frontend_donor_url": "https://[::1]:3001"}, "FRONTEND_DONOR_URL"),
        ({"frontend_donor_url": "https://[::ffff:127.0.0.1]"}, "FRONTEND_DONOR_URL"),
        ({"frontend_admin_url": "https://admin.localhost"}, "FRONTEND_ADMIN_URL"),
        ({"frontend_admin_url": "https://LOCALHOST."}, "FRONTEND_ADMIN_URL"),
        ({"frontend_admin_url": "https://gala-laptop.local"}, "FRONTEND_ADMIN_URL"),
        ({"mfa_required_roles": ""}, "MFA_REQUIRED_ROLES"),
        ({"mfa_required_roles": " , "}, "MFA_REQUIRED_ROLES"),
        ({"refresh_cookie_name": "augeo_refresh"}, "REFRESH_COOKIE_NAME"),
    ],
)
def test_production_refuses_what_would_make_it_quietly_unsafe(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        settings(**{**PRODUCTION, **changes})
    assert settings(**{**PRODUCTION, "environment": "development", **changes})


def test_the_example_settings_key_is_a_placeholder_nothing_accepts() -> None:
    example = _example_values()
    assert example["JWT_ALGORITHM"] == "ES256"
    with pytest.raises(ConfigurationError, match="JWT_SIGNING_KEYS"):
        settings(environment="development", jwt_signing_keys=example["JWT_SIGNING_KEYS"])
    with pytest.raises(ConfigurationError, match="DATA_ENCRYPTION_KEYS"):
        settings(environment="development", data_encryption_keys=example["DATA_ENCRYPTION_KEYS"])


def test_production_accepts_an_operator_key_and_the_strong_secret_of_hs256() -> None:
    assert settings(**PRODUCTION).jwt_signing_keys is not None
    assert settings(**{**PRODUCTION, **HS256}).jwt_is_symmetric


def test_a_symmetric_key_is_at_least_as_long_as_its_hash_everywhere() -> None:
    with pytest.raises(ConfigurationError, match="64 bytes long for HS512"):
        settings(environment="development", jwt_algorithm="HS512", jwt_secret_key="k" * 32)
    assert settings(environment="development", jwt_algorithm="HS512", jwt_secret_key="k" * 64)


def test_dot_env_is_read_in_development_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("APP_VERSION=from-dot-env\n")
    monkeypatch.delenv("APP_VERSION", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert settings(environment="development").app_version == "from-dot-env"
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert settings(**PRODUCTION).app_version != "from-dot-env"


def test_funcignore_keeps_dot_env_out_of_the_package() -> None:
    assert ".env" in (ROOT / ".funcignore").read_text().split()


def test_tls_modes_build_the_right_context() -> None:
    import ssl

    from shared.database import ssl_context

    assert ssl_context("disable") is False
    strict = ssl_context("verify-full")
    assert isinstance(strict, ssl.SSLContext)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = ssl_context("require")
    assert isinstance(loose, ssl.SSLContext)
    assert loose.verify_mode == ssl.CERT_NONE


def test_the_database_wait_defaults_add_up_to_under_3_seconds_for_a_hung_server() -> None:
    """The defaults only: that a hung server costs one ping and one connection attempt is
    tests/integration/test_database.py's to show, and how long that takes, the benchmark's to measure."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["db_ping_timeout_seconds"] + defaults["db_connect_timeout_seconds"] < 3
    assert defaults["db_statement_timeout_seconds"] == 5
    assert defaults["db_idle_in_transaction_timeout_seconds"] == 10


def test_migrations_run_as_the_owner_and_fall_back_to_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)  # the suite's own
    owner = "postgresql+pg8000://owner:pw@db.example.org:5432/augeo"
    assert settings(migration_database_url=owner).owner_database_url == owner
    assert settings().owner_database_url == VALID["database_url"]
    assert "pw@" not in repr(settings(migration_database_url=owner))
    with pytest.raises(ConfigurationError, match="MIGRATION_DATABASE_URL"):
        settings(migration_database_url="mysql://db/augeo")


@pytest.mark.parametrize("name", ['augeo"; DROP TABLE users; --', "has space", "x" * 64, "1starts_with_digit"])
def test_the_runtime_role_name_is_a_plain_identifier(name: str) -> None:
    with pytest.raises(ConfigurationError, match="DB_APP_ROLE"):
        settings(db_app_role=name)
    assert settings(db_app_role="id-augeo-abc123").db_app_role == "id-augeo-abc123"


def test_entra_sign_in_takes_no_password_and_never_sends_a_token_in_clear() -> None:
    with pytest.raises(ConfigurationError, match="no password with DB_AUTH=entra"):
        settings(db_auth="entra", db_ssl="verify-full")  # VALID's URL carries a password
    remote = "postgresql+pg8000://id-augeo-abc@db.example.org:6432/augeo"
    with pytest.raises(ConfigurationError, match="a token never travels in clear"):
        settings(db_auth="entra", database_url=remote, db_ssl="disable")
    entra = settings(db_auth="entra", database_url=remote, db_ssl="verify-full", db_entra_client_id="client-id")
    assert entra.db_auth == "entra" and entra.db_entra_client_id == "client-id"
    local = "postgresql+pg8000://augeo_app@127.0.0.1:5432/augeo"
    assert settings(db_auth="entra", database_url=local).db_ssl == "disable"  # tests, on loopback


def test_production_accepts_public_https_link_targets_and_second_factors_said_off() -> None:
    production = settings(**{**PRODUCTION, "frontend_admin_url": "https://admin.example.org:8443/"})
    assert production.frontend_admin_url == "https://admin.example.org:8443"
    assert settings(**{**PRODUCTION, "frontend_donor_url": "https://10.20.0.5"}).frontend_donor_url
    assert settings(**{**PRODUCTION, "mfa_required_roles": "none"}).mfa_required_roles == []


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_mfa_required_roles_none_means_nobody_in_every_environment(environment: str) -> None:
    assert settings(**{**PRODUCTION, "environment": environment, "mfa_required_roles": "none"}).mfa_required_roles == []
    with pytest.raises(ConfigurationError, match="MFA_REQUIRED_ROLES: 'none' stands alone"):
        settings(**{**PRODUCTION, "environment": environment, "mfa_required_roles": "none,super_admin"})


def test_an_empty_mfa_required_roles_is_nobody_outside_production_and_refused_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for environment in ("development", "test"):
        assert settings(environment=environment, mfa_required_roles="").mfa_required_roles == []
    with pytest.raises(ConfigurationError) as raised:
        settings(**{**PRODUCTION, "mfa_required_roles": ""})
    assert "MFA_REQUIRED_ROLES: is empty" in str(raised.value) and "none" in str(raised.value)
    monkeypatch.setenv("MFA_REQUIRED_ROLES", "")  # as an app setting left blank
    with pytest.raises(ConfigurationError, match="MFA_REQUIRED_ROLES: is empty"):
        settings(**{k: v for k, v in PRODUCTION.items() if k != "mfa_required_roles"})
    monkeypatch.delenv("MFA_REQUIRED_ROLES")  # unset: the default, super and NPO admins
    unset = settings(**{k: v for k, v in PRODUCTION.items() if k != "mfa_required_roles"})
    assert unset.mfa_required_roles == ["super_admin", "npo_admin"]


LINK_PAGES = {
    "frontend_verify_email_path": "/verify-email",
    "frontend_reset_password_path": "/reset-password",
    "frontend_accept_invitation_path": "/accept-invitation",
}


def test_each_email_link_page_is_a_setting_defaulting_to_todays_path() -> None:
    defaults = settings()
    assert {name: getattr(defaults, name) for name in LINK_PAGES} == LINK_PAGES
    assert settings(frontend_reset_password_path="/password-reset-confirm").frontend_reset_password_path == (
        "/password-reset-confirm"
    )
    assert settings(frontend_accept_invitation_path="/").frontend_accept_invitation_path == "/"


@pytest.mark.parametrize("name", sorted(LINK_PAGES))
@pytest.mark.parametrize(
    "value",
    [
        "",
        "reset-password",  # not from the root
        "https://evil.example.org/reset",  # a scheme and a host
        "//evil.example.org/reset",  # a host, to a browser
        "/\\evil.example.org",  # a host too: browsers read \ as /
        "/reset?next=/admin",  # the query is the token's
        "/reset#top",
        "/reset password",
        "/reset\tpassword",
        "/reset\n",
        "/réinitialiser",  # not percent-encoded
    ],
)
def test_a_link_page_that_is_not_a_path_refuses_to_start_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name.upper()}: must be a path like /reset-password"):
        settings(**{name: value})


def test_the_example_settings_are_development_where_local_link_targets_are_fine() -> None:
    """local.settings.json.example is for a laptop: its localhost link targets would stop production."""
    example = _example_values()
    assert example["ENVIRONMENT"] == "development"
    local = {"frontend_admin_url": example["FRONTEND_ADMIN_URL"], "frontend_donor_url": example["FRONTEND_DONOR_URL"]}
    assert settings(environment="development", **local).frontend_admin_url == example["FRONTEND_ADMIN_URL"]
    with pytest.raises(ConfigurationError, match="FRONTEND_ADMIN_URL"):
        settings(**{**PRODUCTION, **local})
