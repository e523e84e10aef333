"""Bodies of the platform endpoints (health, index, the JWK Set)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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


class JsonWebKey(ResponseModel):
    """One public key (RFC 7517 §4): EC keys carry crv, x and y; OKP crv and x; RSA n and e."""

    kty: Literal["EC", "OKP", "RSA"] = Field(examples=["EC"])
    kid: str = Field(
        description="RFC 7638 thumbprint of the key; access tokens name their key with it.",
        examples=["kp1VZKGYIxPusVzkPG7Iw3fIBxj7SUXLqfVfXA-_S-Q"],
    )
    alg: Literal["ES256", "EdDSA", "RS256"] = Field(examples=["ES256"])
    use: Literal["sig"] = "sig"
    crv: Literal["P-256", "Ed25519"] | None = Field(default=None, examples=["P-256"])
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None


class JwksResponse(ResponseModel):
    """The keys that verify access tokens, the signing key first (empty with a shared HS* secret)."""

    keys: list[JsonWebKey]
