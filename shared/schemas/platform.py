"""Bodies of the platform endpoints (health, index)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

CheckStatus = Literal["ok", "unavailable"]


class HealthChecks(BaseModel):
    database: CheckStatus
    redis: CheckStatus


class HealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    environment: str
    version: str
    checks: HealthChecks


class ApiIndexResponse(BaseModel):
    name: str
    version: str
    links: dict[str, str]
