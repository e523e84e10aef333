"""Alembic environment: migrations run as the owner, then grant the runtime and retention roles their rights.

The URL is MIGRATION_DATABASE_URL (the owner's), else DATABASE_URL, through
the settings. Every run that moves the schema (upgrade, downgrade, stamp)
ends, in the same transaction, by setting the privileges of the runtime role
(DB_APP_ROLE) and of the retention role (DB_RETENTION_ROLE) on every table:
see shared/database_roles.py. Tests pass ``database_url``, ``app_role`` and
``retention_role`` as config attributes instead.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from shared.config import get_settings
from shared.database import ssl_context
from shared.database_roles import runtime_grants_sql
from shared.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    return config.attributes.get("database_url") or get_settings().owner_database_url


def _app_role() -> str:
    return config.attributes.get("app_role") or get_settings().db_app_role


def _retention_role() -> str:
    return config.attributes.get("retention_role") or get_settings().db_retention_role


def _connect_args() -> dict[str, object]:
    """The app's TLS rule (DB_SSL) applies to migrations too."""
    if config.attributes.get("database_url"):
        return {}
    return {"ssl_context": ssl_context(get_settings().db_ssl)}


def _moves_the_schema() -> bool:
    """upgrade, downgrade and stamp name a destination; current, history, check and autogenerate do not."""
    environment = context.get_context().environment_context
    return environment is not None and "destination_rev" in environment.context_opts


def _run() -> None:
    with context.begin_transaction():
        context.run_migrations()
        if _moves_the_schema():
            context.execute(runtime_grants_sql(_app_role(), _retention_role()))


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    _run()


def run_migrations_online() -> None:
    engine = create_engine(_database_url(), poolclass=pool.NullPool, connect_args=_connect_args())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        _run()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
