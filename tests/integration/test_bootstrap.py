"""The super-admin bootstrap: creates once, never silently changes an existing account."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from shared.config import Settings, load_settings
from shared.database import unit_of_work
from shared.models import User
from shared.security.passwords import verify_password
from shared.services.bootstrap import (
    BootstrapOutcome,
    BootstrapRefusedError,
    ensure_super_admin,
    super_admin_exists,
)
from tests.support.database import alembic_config
from tests.support.processes import run_cli
from tests.support.settings import settings_changed


def _settings(email: str, password: str = "Bootstrap-pass-2026") -> Settings:
    return load_settings(super_admin_email=email, super_admin_password=password)


def _user(email: str) -> User:
    with unit_of_work() as session:
        return session.scalars(select(User).where(User.email == email)).one()


def test_creates_a_verified_active_super_admin_once(unique_email: Callable[[str], str]) -> None:
    email = unique_email("root").upper()
    first = ensure_super_admin(_settings(email))
    assert first.outcome is BootstrapOutcome.CREATED
    user = _user(email.lower())
    assert (user.role, user.email_verified, user.is_active, user.npo_id) == ("super_admin", True, True, None)
    second = ensure_super_admin(_settings(email, password="Another-pass-2027"))
    assert second.outcome is BootstrapOutcome.ALREADY_SUPER_ADMIN
    kept = _user(email.lower())
    assert verify_password("Bootstrap-pass-2026", kept.password_hash)
    assert not verify_password("Another-pass-2027", kept.password_hash)


def test_super_admin_exists_once_one_is_created(scratch_database: str, unique_email: Callable[[str], str]) -> None:
    """`make run` asks this. In a database of its own: the suite's holds other tests' super admins."""
    command.upgrade(alembic_config(scratch_database), "head")
    app_url = make_url(os.environ["DATABASE_URL"]).set(database=make_url(scratch_database).database)
    with settings_changed(DATABASE_URL=app_url.render_as_string(hide_password=False)):
        assert super_admin_exists() is False
        email = unique_email("root")
        ensure_super_admin(_settings(email))
        assert super_admin_exists() is True
        with unit_of_work() as session:
            session.execute(update(User).where(User.email == email).values(is_active=False))
        assert super_admin_exists() is False, "a deactivated super admin cannot sign in"


def test_refuses_an_existing_non_admin_account(unique_email: Callable[[str], str]) -> None:
    email = unique_email("donor")
    with unit_of_work() as session:
        session.add(User(email=email, first_name="D", last_name="D", role="donor"))
    with pytest.raises(BootstrapRefusedError, match="already exists with role donor"):
        ensure_super_admin(_settings(email))
    assert _user(email).role == "donor"


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        (None, "Bootstrap-pass-2026", "must both be set"),
        ("not-an-email", "Bootstrap-pass-2026", "not a valid"),
        ("ok@example.org", "password1", "too common"),
    ],
)
def test_refuses_bad_settings(email: str | None, password: str, message: str) -> None:
    with pytest.raises(BootstrapRefusedError, match=message):
        ensure_super_admin(load_settings(super_admin_email=email, super_admin_password=password))


def test_cli_is_idempotent(unique_email: Callable[[str], str]) -> None:
    env = {**os.environ, "SUPER_ADMIN_EMAIL": unique_email("cli"), "SUPER_ADMIN_PASSWORD": "Cli-bootstrap-77"}
    runs = [run_cli("create-super-admin", env=env) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr
    assert "created" in runs[0].stdout and "left unchanged" in runs[1].stdout
    assert "Cli-bootstrap-77" not in runs[0].stdout + runs[0].stderr
