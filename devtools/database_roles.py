"""Both database roles from the one administrator URL a developer or CI has.

``make run`` (embedded PostgreSQL, or DATABASE_URL alone) and the test suite
(DATABASE_URL of a fresh database, superuser ``postgres`` in CI; or embedded)
get one URL that may do everything. They keep it as the owner's
(MIGRATION_DATABASE_URL: migrations, and owner-only test set-up), and run the
app as a runtime role made from it, exactly as in Azure:

- the role is named after the database (``augeo`` -> ``augeo_app``,
  ``augeo_ci`` -> ``augeo_ci_app``), so suites of different databases on one
  server never share a role, and DB_APP_ROLE overrides it;
- its password is derived from the administrator's (none when the
  administrator has none: trust or socket authentication), so concurrent runs
  on one server agree on it without storing it anywhere.

The role itself is made by ``shared.database_roles.ensure_app_role``, the code
behind ``python -m shared.cli create-app-role``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy.engine import make_url

_MAX_IDENTIFIER_BYTES = 63
_SUFFIX = "_app"


@dataclass(frozen=True)
class DatabaseRoles:
    """The owner's URL, the app's URL and the runtime role the app's URL signs in as."""

    owner_url: str
    app_url: str
    app_role: str

    def environment(self) -> dict[str, str]:
        """The settings that name them (shared/config.py)."""
        return {"MIGRATION_DATABASE_URL": self.owner_url, "DATABASE_URL": self.app_url, "DB_APP_ROLE": self.app_role}


def app_role_for(database: str) -> str:
    """``<database>_app``, as a plain identifier of at most 63 bytes."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", database) or "augeo"
    if not re.match(r"[A-Za-z_]", stem):
        stem = f"db_{stem}"
    return stem[: _MAX_IDENTIFIER_BYTES - len(_SUFFIX)] + _SUFFIX


def app_password_for(admin_password: str | None, role: str) -> str | None:
    """A password for ``role`` derived from the administrator's, or None when it has none."""
    if not admin_password:
        return None
    return hmac.new(admin_password.encode(), f"augeo runtime role {role}".encode(), hashlib.sha256).hexdigest()


def derive_roles(admin_url: str, app_role: str | None = None) -> DatabaseRoles:
    """The owner keeps ``admin_url``; the app signs in as the runtime role on the same server and database."""
    url = make_url(admin_url)
    role = app_role or app_role_for(url.database or "augeo")
    app_url = url.set(username=role, password=app_password_for(url.password, role))
    return DatabaseRoles(owner_url=admin_url, app_url=app_url.render_as_string(hide_password=False), app_role=role)
