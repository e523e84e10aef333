"""Operator commands: ``python -m shared.cli create-super-admin | create-app-role``.

Used by ``make run``, the test suite, the azd post-provision hook and the
deploy pipeline.
"""

from __future__ import annotations

import argparse
import sys

from shared.config import ConfigurationError, get_settings


def create_super_admin(_args: argparse.Namespace | None = None) -> int:
    """Idempotently create the SUPER_ADMIN_* account; exit 1 when refused."""
    from shared.services.bootstrap import BootstrapOutcome, BootstrapRefusedError, ensure_super_admin

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


def create_app_role(args: argparse.Namespace | None = None) -> int:
    """Idempotently create the runtime role DB_APP_ROLE and set its limits (an administrator's step).

    Run before ``alembic upgrade head``, which grants the role its rights.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from shared.database_roles import ensure_app_role

    entra_admin, entra_object_id = (args.entra_admin, args.entra_object_id) if args else (None, None)
    try:
        settings = get_settings()
        created = ensure_app_role(settings, entra_admin=entra_admin, entra_object_id=entra_object_id)
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
    print(f"create-app-role: {settings.db_app_role} {'created' if created else 'exists'}; {limits}")
    return 0


COMMANDS = {"create-super-admin": create_super_admin, "create-app-role": create_app_role}


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m shared.cli")
    commands.add_argument("command", choices=sorted(COMMANDS))
    commands.add_argument(
        "--entra-admin",
        help="create-app-role in Azure: sign in as this Microsoft Entra administrator of the server (az login)",
    )
    commands.add_argument(
        "--entra-object-id", help="create-app-role in Azure: object (principal) id of the app's managed identity"
    )
    return commands


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
