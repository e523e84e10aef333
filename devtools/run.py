"""``make run``: everything a fresh machine needs to answer on http://localhost:7071.

Starts embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are not
set, migrates, creates the super admin when SUPER_ADMIN_* are set, and serves
the FunctionApp through the local server. Every setting can still be given
in the environment (or .env); these are only development defaults.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from devtools.services import DATA_DIR, start_embedded_postgres, start_embedded_redis

ROOT = Path(__file__).resolve().parent.parent
DEV_DEFAULTS = {"ENVIRONMENT": "development", "EMAIL_BACKEND": "file", "EMAIL_FILE_DIR": str(ROOT / ".emails")}

logger = logging.getLogger("augeo.run")


def development_jwt_secret() -> str:
    """A random secret kept under .data, so tokens survive a restart of `make run`."""
    path = DATA_DIR / "jwt-secret"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare_environment() -> None:
    """Fill in what is missing: services, development defaults, a JWT secret."""
    for name, value in DEV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_embedded_postgres()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_embedded_redis()
    if not os.environ.get("JWT_SECRET_KEY"):
        if os.environ["ENVIRONMENT"] == "production":
            sys.exit("JWT_SECRET_KEY must be set when ENVIRONMENT=production")
        os.environ["JWT_SECRET_KEY"] = development_jwt_secret()
        logger.info("JWT_SECRET_KEY not set: using a generated development secret")


def migrate() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def drain_email_forever(interval_seconds: float = 5.0) -> threading.Thread:
    """What the timer trigger does in Azure: send the outbox, every few seconds."""
    from shared.services.email.drain import drain_outbox

    def loop() -> None:
        while True:
            try:
                while drain_outbox().handled:
                    pass
            except Exception:
                logger.exception("email drain failed; retrying")
            time.sleep(interval_seconds)

    thread = threading.Thread(target=loop, name="email-outbox-drain", daemon=True)
    thread.start()
    return thread


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    prepare_environment()
    from shared.config import ConfigurationError, get_settings

    try:
        get_settings()
    except ConfigurationError as error:
        sys.exit(str(error))
    migrate()
    if os.environ.get("SUPER_ADMIN_EMAIL"):
        from shared.cli import create_super_admin

        if create_super_admin() != 0:
            sys.exit(1)
    from devtools.local_server import create_server

    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "7071"))
    server = create_server(host, port)
    drain_email_forever()
    logger.info("Augeo Platform API on http://%s:%d (health: /health, docs: /docs)", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopping")
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
