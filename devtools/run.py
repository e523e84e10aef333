"""``make run``: everything a fresh machine needs to answer on http://localhost:7071.

Starts embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are not
set, creates the app's runtime role and the retention job's role, migrates as
the owner, creates the super admin when SUPER_ADMIN_* are set, and serves the
FunctionApp through the local server, signed in to PostgreSQL as the runtime
role, with the email drain and the retention job running beside it. Every setting can still
be given in the environment (or .env); these are only development defaults.

The database roles: with one URL (embedded, or DATABASE_URL alone) that URL
becomes the owner's (MIGRATION_DATABASE_URL), the app signs in as
``<database>_app`` and the retention job as ``<database>_retention`` made
from it, as the test suite does (devtools/derived_roles.py). With MIGRATION_DATABASE_URL set too, both URLs
are used as they are and the role is the operator's business
(``python -m shared.cli create-app-role``).

It says a few lines (where the API and its docs are, where emails go, whether
a super admin exists); ``-v`` or LOG_LEVEL=DEBUG shows the full log. Ctrl-C,
SIGTERM and SIGHUP stop it and the embedded servers it started.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

from devtools.derived_roles import derive_roles
from devtools.services import (
    DATA_DIR,
    EmbeddedService,
    interrupt_on_signals,
    kept_in,
    start_embedded_postgres,
    start_embedded_redis,
    stop_embedded_services,
)

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.security.signing_keys import AsymmetricAlgorithm

ROOT = Path(__file__).resolve().parent.parent
DEV_DEFAULTS = {"ENVIRONMENT": "development", "EMAIL_BACKEND": "file", "EMAIL_FILE_DIR": str(ROOT / ".emails")}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

logger = logging.getLogger("augeo.run")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.run", description="Serve the API locally (make run).")
    parser.add_argument("-v", "--verbose", action="store_true", help="the full log: pgserver, alembic, requests")
    return parser.parse_args(argv)


def configure_output(verbose: bool) -> None:
    """Quiet by default (unless ``verbose`` or LOG_LEVEL=DEBUG): the greeting on stdout, only
    warnings and errors from the log.

    pgserver, alembic and every request log at INFO; a newcomer needs none of it
    to start, and a warning still shows.
    """
    debug = os.environ.get("LOG_LEVEL", "").upper() == "DEBUG"
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.NOTSET if verbose or debug else logging.WARNING)
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format=LOG_FORMAT, handlers=[handler])


def development_jwt_secret() -> str:
    """The HS* shared secret of `make run` when JWT_SECRET_KEY is not given."""
    return kept_in(DATA_DIR, "jwt-secret", lambda: secrets.token_urlsafe(48))


def development_signing_key(algorithm: AsymmetricAlgorithm) -> str:
    """One private key per algorithm, generated once, marked so that production refuses it."""
    from shared.security.signing_keys import new_private_key_pem

    name = f"jwt-signing-key-{algorithm.lower()}.pem"
    return kept_in(DATA_DIR, name, lambda: new_private_key_pem(algorithm, development=True)) + "\n"


def _provide(name: str, make: Callable[[], str]) -> None:
    """Set ``name`` to a development value kept under .data when it is not configured;
    production must bring its own (a generated value would pass its checks)."""
    if os.environ.get(name):
        return
    if os.environ.get("ENVIRONMENT") == "production":
        sys.exit(f"{name} must be set when ENVIRONMENT=production")
    os.environ[name] = make()
    logger.info("%s not set: using a generated development key kept in %s", name, DATA_DIR)


def provide_encryption_key() -> None:
    """A development DATA_ENCRYPTION_KEYS when none is configured, kept so stored secrets stay readable."""
    from shared.security.encryption import new_key

    _provide("DATA_ENCRYPTION_KEYS", lambda: kept_in(DATA_DIR, "data-encryption-key", new_key))


def provide_token_key() -> None:
    """A development signing key (or HS* secret) when none is configured; production must bring its own."""
    from shared.security.signing_keys import ASYMMETRIC_ALGORITHMS

    algorithm = os.environ.get("JWT_ALGORITHM", "ES256")
    if algorithm in ASYMMETRIC_ALGORITHMS:
        _provide("JWT_SIGNING_KEYS", lambda: development_signing_key(algorithm))
    else:  # HS*, or an invalid JWT_ALGORITHM that the settings will name
        _provide("JWT_SECRET_KEY", development_jwt_secret)


def prepare_environment() -> tuple[list[EmbeddedService], bool]:
    """Fill in what is missing: services, database roles, development defaults, a token key.

    Returns the embedded services, and whether the runtime role is ours to create.
    """
    for name, value in DEV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    services = []
    if not os.environ.get("DATABASE_URL"):
        services.append(start_embedded_postgres())
        os.environ["DATABASE_URL"] = services[-1].url
    make_app_role = not os.environ.get("MIGRATION_DATABASE_URL")
    if make_app_role:
        roles = derive_roles(
            os.environ["DATABASE_URL"], os.environ.get("DB_APP_ROLE"), os.environ.get("DB_RETENTION_ROLE")
        )
        os.environ.update(roles.environment())
    if not os.environ.get("REDIS_URL"):
        services.append(start_embedded_redis())
        os.environ["REDIS_URL"] = services[-1].url
    provide_token_key()
    provide_encryption_key()
    return services, make_app_role


def checked_settings() -> Settings:
    from shared.config import ConfigurationError, get_settings

    try:
        return get_settings()
    except ConfigurationError as error:
        sys.exit(str(error))


def migrate() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


class TimerJob:
    """What a timer trigger does in Azure, on a thread: run now, then every ``interval_seconds`` until stopped."""

    name = "timer"

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the step in hand, so the database is not stopped under it."""
        self._stopping.set()
        self._thread.join(timeout=10)

    def run_once(self) -> bool:
        """One run of the job; False when it should never run again."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if not self.run_once():
                return
            self._stopping.wait(self.interval_seconds)


class EmailDrain(TimerJob):
    """The outbox timer: send what is due, every few seconds."""

    name = "email-outbox-drain"

    def __init__(self, interval_seconds: float = 5.0) -> None:
        super().__init__(interval_seconds)

    def run_once(self) -> bool:
        from shared.services.email.drain import drain_outbox

        try:
            while drain_outbox().handled and not self._stopping.is_set():
                pass
        except Exception:
            logger.exception("email drain failed; retrying")
        return True


class RetentionJob(TimerJob):
    """The retention timer: delete what is past its age, at start and then hourly.

    As the retention role (RETENTION_DATABASE_URL), never the app's: `make run`
    makes that role with the app's when it makes the roles itself; with
    MIGRATION_DATABASE_URL given, setting RETENTION_DATABASE_URL is the
    operator's business, and without it the job says so once and stops.
    """

    name = "retention"

    def __init__(self, interval_seconds: float = 3600.0) -> None:
        super().__init__(interval_seconds)

    def run_once(self) -> bool:
        from shared.config import get_settings
        from shared.services.retention import RetentionNotConfiguredError, run_retention

        try:
            logger.info("retention: %s", run_retention(get_settings()).describe())
        except RetentionNotConfiguredError as error:
            logger.warning("retention will not run: %s", error)
            return False
        except Exception:
            logger.exception("retention failed; trying again in an hour")
        return True


def greeting(base_url: str, settings: Settings, services: list[EmbeddedService], has_super_admin: bool) -> list[str]:
    """What a newcomer needs to start: where things are and what to do first."""
    lines = [f"Augeo Platform API  {base_url}", f"API docs            {base_url}/docs"]
    lines.append(f"Emails              {_email_destination(settings)}")
    if has_super_admin:
        lines.append("Super admin         exists")
    else:
        lines.append("Super admin         none yet: set SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD and restart,")
        lines.append("                    or run `python -m shared.cli create-super-admin` with them set")
    for service in services:
        if not service.started_here:
            lines.append(
                f"{service.name:<20}reusing the one already running in {_shown(service.folder)} "
                f"(pid {service.pid}); it keeps running after this stops"
            )
    lines.append("Ctrl-C stops it" + (" and the embedded servers it started" if _any_started(services) else "") + ".")
    return lines


def _email_destination(settings: Settings) -> str:
    if settings.email_backend == "file":
        return f"written as JSON files to {_shown(settings.email_file_dir.resolve())}"
    if settings.email_backend == "console":
        return "printed here"
    return "sent through Azure Communication Services"


def _shown(path: Path) -> str:
    """A path as short as it can be read from where the command was started."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _any_started(services: list[EmbeddedService]) -> bool:
    return any(service.started_here for service in services)


def _release_clients() -> None:
    """Close pooled connections before the embedded servers stop under them."""
    from shared.database import dispose_engine
    from shared.redis_client import reset_redis

    dispose_engine()
    reset_redis()


def serve() -> None:
    """Prepare, greet, and serve until interrupted."""
    services, make_app_role = prepare_environment()
    settings = checked_settings()
    if make_app_role:
        from shared.database_roles import ensure_app_role

        ensure_app_role(settings)
    migrate()
    if settings.super_admin_email:
        from shared.cli import create_super_admin

        if create_super_admin() != 0:
            sys.exit(1)
    from devtools.local_server import create_server
    from shared.services.bootstrap import super_admin_exists

    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "7071"))
    server = create_server(host, port)
    drain = EmailDrain().start()
    retention = RetentionJob().start()
    print("\n".join(greeting(f"http://{host}:{port}", settings, services, super_admin_exists())), flush=True)
    try:
        server.serve_forever()
    finally:
        retention.stop()
        drain.stop()
        server.server_close()
        _release_clients()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_output(args.verbose)
    interrupt_on_signals()
    try:
        serve()
    except KeyboardInterrupt:
        pass
    finally:
        stopped = stop_embedded_services()
    print("Stopped" + (f"; so are the embedded {' and '.join(stopped)} it started." if stopped else "."), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
