"""`make run` makes its own token key once, keeps it in the data folder, and production refuses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devtools import run
from shared.config import ConfigurationError, load_settings
from shared.security.signing_keys import parse_signing_keys

URLS = {"database_url": "postgresql+pg8000://u@h/d", "redis_url": "redis://127.0.0.1:6379/0"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(run, "DATA_DIR", tmp_path / "data")
    for name in ("JWT_SIGNING_KEYS", "JWT_SECRET_KEY", "JWT_ALGORITHM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    return tmp_path / "data"


def test_one_key_is_generated_once_and_kept_private(data_dir: Path) -> None:
    first = run.development_signing_key("ES256")
    assert run.development_signing_key("ES256") == first, "a restart keeps the key, and the tokens it signed"
    path = data_dir / "jwt-signing-key-es256.pem"
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = parse_signing_keys(first, "ES256")
    assert len(keys.keys) == 1 and keys.has_development_key


def test_make_run_fills_in_the_key_its_algorithm_needs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run.provide_token_key()
    generated = os.environ["JWT_SIGNING_KEYS"]
    assert load_settings(**URLS).jwt_signing_keys is not None
    monkeypatch.delenv("JWT_SIGNING_KEYS")
    run.provide_token_key()
    assert os.environ["JWT_SIGNING_KEYS"] == generated
    monkeypatch.setenv("JWT_ALGORITHM", "EdDSA")
    monkeypatch.delenv("JWT_SIGNING_KEYS")
    run.provide_token_key()
    assert load_settings(**URLS).jwt_signing_keys is not None, "a key of the other algorithm, in its own file"
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    run.provide_token_key()
    assert load_settings(**URLS).jwt_is_symmetric and (data_dir / "jwt-secret").exists()


def test_a_given_key_is_left_alone(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SIGNING_KEYS", "mine")
    run.provide_token_key()
    assert os.environ["JWT_SIGNING_KEYS"] == "mine" and not data_dir.exists()


def test_production_gets_no_generated_key(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SystemExit, match="JWT_SIGNING_KEYS must be set"):
        run.provide_token_key()
    development = run.development_signing_key("ES256")
    with pytest.raises(ConfigurationError, match="JWT_SIGNING_KEYS holds a development key"):
        load_settings(**URLS, environment="production", mfa_required_roles="none", jwt_signing_keys=development)
