"""PostgreSQL and Redis for the integration tests, the two database roles, the schema.

DATABASE_URL / REDIS_URL from the environment are used (CI points them at a
fresh database, as superuser ``postgres``); when unset, embedded servers start
under .data/ (or AUGEO_DATA_DIR), and those started here are stopped when the
session ends.

The database URL (MIGRATION_DATABASE_URL if set, else DATABASE_URL) must be
allowed to create a role. It becomes the owner's: migrations run with it, and
so does the little test set-up only an owner may do
(:func:`tests.support.database.owner_engine`). The app, everywhere in the
suite, signs in as the runtime role made from it (``<database>_app``,
devtools/derived_roles.py): DATABASE_URL is rewritten to it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tests.support import ROOT
from tests.support.settings import reset_clients

if TYPE_CHECKING:
    from devtools.services import EmbeddedService

EMBEDDED: list[EmbeddedService] = []


def prepare_services() -> None:
    """Real services, the runtime role, the schema at head: before any test reads a setting."""
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        _start_embedded_services()
    _use_two_database_roles()
    from alembic import command
    from alembic.config import Config

    alembic_config = Config(str(ROOT / "alembic.ini"))
    alembic_config.attributes["configure_logger"] = False
    command.upgrade(alembic_config, "head")


def _start_embedded_services() -> None:
    """Embedded PostgreSQL and/or Redis for what the environment does not name."""
    from devtools.services import DATA_DIR, interrupt_on_signals, start_embedded_postgres, start_embedded_redis

    interrupt_on_signals()  # a SIGTERM (CI cancelling a job) must stop them too
    if not os.environ.get("DATABASE_URL"):
        EMBEDDED.append(start_embedded_postgres(database="augeo_test", fresh=True))
        os.environ["DATABASE_URL"] = EMBEDDED[-1].url
    if not os.environ.get("REDIS_URL"):
        EMBEDDED.append(start_embedded_redis(DATA_DIR / "test"))
        os.environ["REDIS_URL"] = EMBEDDED[-1].url
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # the suite's own, embedded Redis


def _use_two_database_roles() -> None:
    """Owner for migrations, runtime role for the app, as in Azure (before any setting is read)."""
    from devtools.derived_roles import derive_roles
    from shared.config import load_settings
    from shared.database_roles import ensure_app_role

    administrator_url = os.environ.get("MIGRATION_DATABASE_URL") or os.environ["DATABASE_URL"]
    os.environ.update(derive_roles(administrator_url, os.environ.get("DB_APP_ROLE")).environment())
    ensure_app_role(load_settings())


def embedded_services_report() -> list[str]:
    """One line per embedded server: started by this session, or found running (and left so)."""
    return [
        f"embedded {service.name}: {'started' if service.started_here else 'reused, left running'}"
        f" (pid {service.pid}, {service.folder})"
        for service in EMBEDDED
    ]


def stop_embedded_services_started_here() -> None:
    """Stop the embedded servers this session started: `make test` leaves no process behind."""
    if not EMBEDDED:
        return
    from devtools.services import stop_embedded_services

    reset_clients()
    stop_embedded_services()
