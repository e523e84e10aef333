"""Bodies of the platform endpoints (health, index, the JWK Set)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas.common import ResponseModel, is_none

CheckStatus = Literal["ok", "unavailable"]


class HealthChecks(ResponseModel):
    database: CheckStatus
    redis: CheckStatus


class _HealthReport(ResponseModel):
    environment: str = Field(examples=["production"])
    version: str = Field(examples=["1.4.0"])
    checks: HealthChecks


class HealthResponse(_HealthReport):
    """PostgreSQL and Redis both answer."""

    status: Literal["healthy"] = "healthy"


class UnhealthyReport(_HealthReport):
    """The report beside the error of a 503: which dependency did not answer."""

    status: Literal["unhealthy"] = "unhealthy"
    checks: HealthChecks = Field(examples=[{"database": "ok", "redis": "unavailable"}])


class ApiIndexResponse(ResponseModel):
    name: str = Field(examples=["Augeo Platform API"])
    version: str = Field(examples=["1.4.0"])
    links: dict[str, str] = Field(examples=[{"health": "/health", "openapi": "/openapi.json", "v1": "/api/v1"}])


class JsonWebKey(ResponseModel):
    """One public key (RFC 7517 §4): EC keys carry crv, x and y; OKP crv and x; RSA n and e."""

    kty: Literal["EC", "OKP", "RSA"] = Field(examples=["EC"])
    kid: str = Field(
        description="RFC 7638 thumbprint of the key; access tokens name their key with it.",
        examples=["kp1VZKGYIxPusVzkPG7Iw3fIBxj7SUXLqfVfXA-_S-Q"],
    )
    alg: Literal["ES256", "EdDSA", "RS256"] = Field(examples=["ES256"])
    use: Literal["sig"] = "sig"
    crv: Literal["P-256", "Ed25519"] | None = Field(default=None, exclude_if=is_none, examples=["P-256"])
    x: str | None = Field(default=None, exclude_if=is_none, examples=["f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"])
    y: str | None = Field(default=None, exclude_if=is_none, examples=["x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"])
    n: str | None = Field(default=None, exclude_if=is_none, description="RSA keys only.")
    e: str | None = Field(default=None, exclude_if=is_none, description="RSA keys only.")


class JwksResponse(ResponseModel):
    """The keys that verify access tokens, the signing key first (empty with a shared HS* secret)."""

    keys: list[JsonWebKey]
