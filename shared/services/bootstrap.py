"""Creating the first super admin, idempotently (deployment and `make run` call it).

An existing account is never changed silently: if the email already belongs
to a super admin nothing happens; if it belongs to anyone else the command
refuses and says so, and an operator decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from shared.config import Settings
from shared.database import unit_of_work
from shared.models import RoleName, User
from shared.security.password_policy import password_problems
from shared.security.passwords import hash_password


class BootstrapOutcome(StrEnum):
    CREATED = "created"
    ALREADY_SUPER_ADMIN = "already_super_admin"


class BootstrapRefusedError(Exception):
    """The settings cannot (or must not) produce a super admin."""


@dataclass(frozen=True)
class BootstrapResult:
    outcome: BootstrapOutcome
    email: str


def ensure_super_admin(settings: Settings) -> BootstrapResult:
    """Create the SUPER_ADMIN_* account, verified and active, unless it exists."""
    if not settings.super_admin_email or not settings.super_admin_password:
        raise BootstrapRefusedError("SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD must both be set")
    try:
        email = validate_email(settings.super_admin_email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise BootstrapRefusedError(f"SUPER_ADMIN_EMAIL is not a valid address: {error}") from None
    problems = password_problems(
        settings.super_admin_password, email, settings.super_admin_first_name, settings.super_admin_last_name
    )
    if problems:
        raise BootstrapRefusedError("SUPER_ADMIN_PASSWORD " + "; ".join(problem.message for problem in problems))

    existing = _find(email)
    if existing is not None:
        return _existing_outcome(existing, email)
    now = datetime.now(UTC)
    try:
        with unit_of_work() as session:
            session.add(
                User(
                    email=email,
                    password_hash=hash_password(settings.super_admin_password, settings.bcrypt_rounds),
                    first_name=settings.super_admin_first_name,
                    last_name=settings.super_admin_last_name,
                    role=RoleName.SUPER_ADMIN.value,
                    email_verified=True,
                    email_verified_at=now,
                    is_active=True,
                    password_changed_at=now,
                )
            )
    except IntegrityError:
        # Two bootstraps raced; the other one created the row.
        existing = _find(email)
        if existing is None:
            raise
        return _existing_outcome(existing, email)
    return BootstrapResult(BootstrapOutcome.CREATED, email)


def super_admin_exists() -> bool:
    """Whether anyone can administer the platform: an active super admin (a deactivated one cannot sign in).

    `make run` asks, to tell a newcomer how to create the first one.
    """
    active_super_admin = exists().where(User.role == RoleName.SUPER_ADMIN.value, User.is_active.is_(True))
    with unit_of_work() as session:
        return bool(session.scalar(select(active_super_admin)))


def _find(email: str) -> User | None:
    with unit_of_work() as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def _existing_outcome(user: User, email: str) -> BootstrapResult:
    if user.role != RoleName.SUPER_ADMIN.value:
        raise BootstrapRefusedError(
            f"{email} already exists with role {user.role}; not changing it. "
            "Promote it through the API or choose another SUPER_ADMIN_EMAIL."
        )
    return BootstrapResult(BootstrapOutcome.ALREADY_SUPER_ADMIN, email)
