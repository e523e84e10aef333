"""Dependency checks for GET /health: a real query and a real PING."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text

from shared.config import get_settings
from shared.database import get_engine
from shared.failures import is_dependency_failure
from shared.redis_client import get_redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthReport:
    """Whether each dependency answered, and which deployment answered this."""

    environment: str
    version: str
    database_ok: bool
    redis_ok: bool

    @property
    def healthy(self) -> bool:
        return self.database_ok and self.redis_ok


def _database_answers() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("health: database unavailable (%s)", type(error).__name__)
        return False


def _redis_answers() -> bool:
    try:
        get_redis().ping()
        return True
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("health: redis unavailable (%s)", type(error).__name__)
        return False


def check_health() -> HealthReport:
    """Ask PostgreSQL and Redis; healthy only when both answer."""
    settings = get_settings()
    return HealthReport(settings.environment, settings.app_version, _database_answers(), _redis_answers())
