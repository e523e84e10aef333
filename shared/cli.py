"""Operator commands.

``python -m shared.cli create-super-admin``: used by ``make run``, the azd
post-provision hook and the deploy pipeline.

``python -m shared.cli redrive-email [--since-hours N]``: after a provider
outage, queue failed and expired emails of the last N hours (72) again; links
are minted fresh, with a full lifetime, when they are sent.

``python -m shared.cli new-signing-key [--algorithm ES256]``: print a new
private key for JWT_SIGNING_KEYS, and nothing else, so it can be piped
straight into a secret store (docs/operations.md, "Rotating the signing key").

``python -m shared.cli create-app-role [--entra-admin NAME --entra-object-id ID
--retention-entra-object-id ID]``: create the runtime database role DB_APP_ROLE
and the retention job's role DB_RETENTION_ROLE and set their server-side
limits (an administrator's step, before ``alembic upgrade head`` grants their
rights).

``python -m shared.cli run-retention``: delete what is past its age now, as the
retention role (RETENTION_DATABASE_URL), what the hourly timer does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from shared.config import ConfigurationError, get_settings
from shared.database_roles import ensure_app_role
from shared.security.encryption import new_key
from shared.security.signing_keys import ASYMMETRIC_ALGORITHMS, AsymmetricAlgorithm, new_private_key_pem
from shared.services.bootstrap import BootstrapOutcome, BootstrapRefusedError, ensure_super_admin
from shared.services.email.redrive import redrive
from shared.services.mfa import clear_by_operator
from shared.services.retention import RetentionNotConfiguredError, run_retention


def create_super_admin() -> int:
    """Idempotently create the SUPER_ADMIN_* account; exit 1 when refused."""
    try:
        result = ensure_super_admin(get_settings())
    except (BootstrapRefusedError, ConfigurationError) as error:
        print(f"create-super-admin: {error}", file=sys.stderr)
        return 1
    if result.outcome is BootstrapOutcome.CREATED:
        print(f"create-super-admin: created {result.email}")
    else:
        print(f"create-super-admin: {result.email} is already a super admin; left unchanged")
    return 0


DEFAULT_REDRIVE_HOURS = 72
MAX_REDRIVE_HOURS = 30 * 24  # rows older than 30 days are deleted by the retention job


def redrive_email(since_hours: int = DEFAULT_REDRIVE_HOURS) -> int:
    """Queue failed and expired emails of the last ``since_hours`` again; prints how many."""
    try:
        report = redrive(timedelta(hours=since_hours))
    except ConfigurationError as error:
        print(f"redrive-email: {error}", file=sys.stderr)
        return 1
    print(
        f"redrive-email: {report.queued} message(s) of the last {since_hours} h queued again, "
        f"{report.with_fresh_link} with a fresh link"
    )
    return 0


def _hours(value: str) -> int:
    hours = int(value)
    if not 1 <= hours <= MAX_REDRIVE_HOURS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_REDRIVE_HOURS}")
    return hours


def new_signing_key(algorithm: AsymmetricAlgorithm) -> int:
    """Write a fresh PEM private key to stdout: the one place this project prints key material, on purpose."""
    sys.stdout.write(new_private_key_pem(algorithm))
    return 0


def clear_mfa(email: str) -> int:
    """Break glass: turn a user's second factor off (an operator with database access); audited."""
    if not clear_by_operator(email):
        print(f"clear-mfa: no account with the address {email}", file=sys.stderr)
        return 1
    print(f"clear-mfa: second factor of {email} cleared, its sessions ended")
    return 0


def new_encryption_key() -> int:
    """Write a fresh key for DATA_ENCRYPTION_KEYS to stdout (only the key)."""
    print(new_key())
    return 0


def create_app_role(entra_admin: str | None, entra_object_id: str | None, retention_object_id: str | None) -> int:
    """Idempotently create the runtime and retention roles and set their limits (an administrator's step).

    Run before ``alembic upgrade head``, which grants the roles their rights.
    """
    try:
        settings = get_settings()
        created = ensure_app_role(
            settings,
            entra_admin=entra_admin,
            entra_object_id=entra_object_id,
            retention_entra_object_id=retention_object_id,
        )
    except (ConfigurationError, ValueError) as error:
        print(f"create-app-role: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:  # the server's message; it names no password
        print(f"create-app-role: {type(error).__name__}: {getattr(error, 'orig', error)}", file=sys.stderr)
        return 1
    limits = (
        f"statement_timeout {settings.db_statement_timeout_seconds:g} s, "
        f"idle_in_transaction_session_timeout {settings.db_idle_in_transaction_timeout_seconds:g} s"
    )
    roles = ", ".join(f"{role} {'created' if made else 'exists'}" for role, made in created.items())
    print(f"create-app-role: {roles}; {limits}")
    return 0


def run_retention_now() -> int:
    """Delete what is past its age now (what the hourly timer does); prints how much."""
    try:
        report = run_retention(get_settings())
    except (ConfigurationError, RetentionNotConfiguredError) as error:
        print(f"run-retention: {error}", file=sys.stderr)
        return 1
    print(f"run-retention: {report.describe()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-super-admin", help="create the SUPER_ADMIN_* account (idempotent)")
    redrive = commands.add_parser("redrive-email", help="queue failed and expired emails again")
    redrive.add_argument(
        "--since-hours",
        type=_hours,
        default=DEFAULT_REDRIVE_HOURS,
        help=f"only messages queued in the last N hours (default {DEFAULT_REDRIVE_HOURS})",
    )
    key = commands.add_parser(
        "new-signing-key", help="print a new private key for JWT_SIGNING_KEYS (PEM, unencrypted, stdout only)"
    )
    key.add_argument("--algorithm", choices=ASYMMETRIC_ALGORITHMS, default="ES256", help="JWT_ALGORITHM it is for")
    clear = commands.add_parser("clear-mfa", help="break glass: turn a user's second factor off (audited)")
    clear.add_argument("--email", required=True, help="the account's address")
    commands.add_parser("new-encryption-key", help="print a new key for DATA_ENCRYPTION_KEYS (stdout only)")
    role = commands.add_parser("create-app-role", help="create the runtime database role and set its limits")
    role.add_argument(
        "--entra-admin", help="in Azure: sign in as this Microsoft Entra administrator of the server (az login)"
    )
    role.add_argument("--entra-object-id", help="in Azure: object (principal) id of the app's managed identity")
    role.add_argument(
        "--retention-entra-object-id", help="in Azure: object (principal) id of the retention job's managed identity"
    )
    commands.add_parser("run-retention", help="delete what is past its age now (what the hourly timer does)")
    args = parser.parse_args(argv)
    commands_by_name: dict[str, Callable[[], int]] = {
        "create-super-admin": create_super_admin,
        "redrive-email": lambda: redrive_email(args.since_hours),
        "new-signing-key": lambda: new_signing_key(args.algorithm),
        "clear-mfa": lambda: clear_mfa(args.email),
        "new-encryption-key": new_encryption_key,
        "create-app-role": lambda: create_app_role(
            args.entra_admin, args.entra_object_id, args.retention_entra_object_id
        ),
        "run-retention": run_retention_now,
    }
    return commands_by_name[args.command]()


if __name__ == "__main__":
    sys.exit(main())
