"""Dependency checks for GET /health: a real query and a real PING."""

from __future__ import annotations

import logging

from sqlalchemy import text

from shared.config import get_settings
from shared.database import get_engine
from shared.failures import is_dependency_failure
from shared.redis_client import get_redis
from shared.schemas.platform import CheckStatus, HealthChecks, HealthResponse

logger = logging.getLogger(__name__)


def _check_database() -> CheckStatus:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("health: database unavailable (%s)", type(error).__name__)
        return "unavailable"


def _check_redis() -> CheckStatus:
    try:
        get_redis().ping()
        return "ok"
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("health: redis unavailable (%s)", type(error).__name__)
        return "unavailable"


def check_health() -> HealthResponse:
    """Ask PostgreSQL and Redis; healthy only when both answer."""
    settings = get_settings()
    checks = HealthChecks(database=_check_database(), redis=_check_redis())
    healthy = checks.database == "ok" and checks.redis == "ok"
    return HealthResponse(
        status="healthy" if healthy else "unhealthy",
        environment=settings.environment,
        version=settings.app_version,
        checks=checks,
    )
