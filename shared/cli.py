"""Operator commands: ``python -m shared.cli create-super-admin``.

Used by ``make run``, the azd post-provision hook and the deploy pipeline.
"""

from __future__ import annotations

import argparse
import sys

from shared.config import ConfigurationError, get_settings
from shared.services.bootstrap import BootstrapOutcome, BootstrapRefusedError, ensure_super_admin


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


COMMANDS = {"create-super-admin": create_super_admin}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    return COMMANDS[args.command]()


if __name__ == "__main__":
    sys.exit(main())
