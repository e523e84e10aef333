"""Bodies of the platform endpoints (health, index)."""

from __future__ import annotations

from typing import Literal

from shared.schemas.common import ResponseModel

CheckStatus = Literal["ok", "unavailable"]


class HealthChecks(ResponseModel):
    database: CheckStatus
    redis: CheckStatus


class HealthResponse(ResponseModel):
    status: Literal["healthy", "unhealthy"]
    environment: str
    version: str
    checks: HealthChecks


class ApiIndexResponse(ResponseModel):
    name: str
    version: str
    links: dict[str, str]
