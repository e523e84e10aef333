"""The database roles from the one administrator URL a developer or CI has.

``make run`` (embedded PostgreSQL, or DATABASE_URL alone) and the test suite
(DATABASE_URL of a fresh database, superuser ``postgres`` in CI; or embedded)
get one URL that may do everything. They keep it as the owner's
(MIGRATION_DATABASE_URL: migrations, and owner-only test set-up), run the
app as a runtime role made from it, and the retention job as a retention
role made from it, exactly as in Azure:

- the roles are named after the database (``augeo`` -> ``augeo_app`` and
  ``augeo_retention``, ``augeo_ci`` -> ``augeo_ci_app`` and
  ``augeo_ci_retention``), so suites of different databases on one server
  never share a role; DB_APP_ROLE and DB_RETENTION_ROLE override them;
- each password is derived from the administrator's (none when the
  administrator has none: trust or socket authentication), so concurrent runs
  on one server agree on it without storing it anywhere.

The roles themselves are made by ``shared.database_roles.ensure_app_role``, the
code behind ``python -m shared.cli create-app-role``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy.engine import make_url

_MAX_IDENTIFIER_BYTES = 63
_SUFFIX = "_app"
_RETENTION_SUFFIX = "_retention"


@dataclass(frozen=True)
class DatabaseRoles:
    """The owner's URL, and the URL and role of the app and of the retention job."""

    owner_url: str
    app_url: str
    app_role: str
    retention_url: str
    retention_role: str

    def environment(self) -> dict[str, str]:
        """The settings that name them (shared/config.py)."""
        return {
            "MIGRATION_DATABASE_URL": self.owner_url,
            "DATABASE_URL": self.app_url,
            "DB_APP_ROLE": self.app_role,
            "RETENTION_DATABASE_URL": self.retention_url,
            "DB_RETENTION_ROLE": self.retention_role,
        }


def _role_for(database: str, suffix: str) -> str:
    """``<database><suffix>``, as a plain identifier of at most 63 bytes."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", database) or "augeo"
    if not re.match(r"[A-Za-z_]", stem):
        stem = f"db_{stem}"
    return stem[: _MAX_IDENTIFIER_BYTES - len(suffix)] + suffix


def app_role_for(database: str) -> str:
    """``<database>_app``, as a plain identifier of at most 63 bytes."""
    return _role_for(database, _SUFFIX)


def retention_role_for(database: str) -> str:
    """``<database>_retention``, as a plain identifier of at most 63 bytes."""
    return _role_for(database, _RETENTION_SUFFIX)


def app_password_for(admin_password: str | None, role: str) -> str | None:
    """A password for ``role`` derived from the administrator's, or None when it has none."""
    if not admin_password:
        return None
    return hmac.new(admin_password.encode(), f"augeo runtime role {role}".encode(), hashlib.sha256).hexdigest()


def derive_roles(admin_url: str, app_role: str | None = None, retention_role: str | None = None) -> DatabaseRoles:
    """The owner keeps ``admin_url``; the app and the retention job sign in as their own
    roles on the same server and database."""
    url = make_url(admin_url)
    database = url.database or "augeo"
    role = app_role or app_role_for(database)
    retention = retention_role or retention_role_for(database)
    app_url = url.set(username=role, password=app_password_for(url.password, role))
    retention_url = url.set(username=retention, password=app_password_for(url.password, retention))
    return DatabaseRoles(
        owner_url=admin_url,
        app_url=app_url.render_as_string(hide_password=False),
        app_role=role,
        retention_url=retention_url.render_as_string(hide_password=False),
        retention_role=retention,
    )
