# ruff: noqa: PLC0415  (alembic after DATABASE_URL is set)
"""Create the benchmark databases afresh and migrate ours (runs under the app's .venv).

argv: <ours pg8000 URL> <peer database name>. Drops and recreates both databases on
the server of the URL, then runs ``alembic upgrade head`` (the app's alembic.ini)
on ours as the owner, after creating the runtime and retention roles it grants to. The peer
creates its own tables (bench/peer_app.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    url = make_url(sys.argv[1])
    peer_db = sys.argv[2]
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in (url.database, peer_db):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        version = connection.execute(text("SHOW server_version")).scalar()
    admin.dispose()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = sys.argv[1]
    # Migrations grant the runtime role its rights, so it must exist first (docs/operations.md, "Database roles").
    from devtools.derived_roles import derive_roles
    from shared.config import load_settings
    from shared.database_roles import ensure_app_role

    roles = derive_roles(sys.argv[1])
    ensure_app_role(
        load_settings(
            migration_database_url=roles.owner_url,
            db_app_role=roles.app_role,
            retention_database_url=roles.retention_url,
            db_retention_role=roles.retention_role,
        )
    )
    os.environ["DB_APP_ROLE"] = roles.app_role
    os.environ["DB_RETENTION_ROLE"] = roles.retention_role
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    print(version)


if __name__ == "__main__":
    main()
