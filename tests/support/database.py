"""The suite's database as its owner sees it, scratch databases, and what migrations grant."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.support import ROOT

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine


@functools.cache
def owner_engine() -> Engine:
    """The owner's connection: for what only the owner may do (migrate, terminate sessions, test triggers).

    One engine for the session, so its connections are pooled and reused
    rather than left open by an engine per call until garbage collection.
    """
    import sqlalchemy as sa

    return sa.create_engine(os.environ["MIGRATION_DATABASE_URL"])


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new, empty database on the same server (the owner's URL to it), dropped afterwards."""
    import sqlalchemy as sa

    server_url = os.environ["MIGRATION_DATABASE_URL"]  # the owner's: it may create databases
    name = f"augeo_scratch_{secrets.token_hex(4)}"
    admin = sa.create_engine(_with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server_url, name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def alembic_config(url: str, **attributes: str) -> Config:
    """Alembic against ``url``, as the migrations' tests run it (``attributes``: app_role, retention_role)."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    config.attributes["database_url"] = url
    config.attributes.update(attributes)
    return config


def table_privileges(url: str, role: str, table: str) -> set[str]:
    """Which table privileges ``role`` holds on ``table`` in the database at ``url``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return {
            privilege
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
            if connection.scalar(
                sa.text("SELECT has_table_privilege(:role, :table, :privilege)"),
                {"role": role, "table": table, "privilege": privilege},
            )
        }
