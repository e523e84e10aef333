"""Bodies shared by every endpoint: the error shape and plain messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error.

    Strings are not trimmed globally: a password's spaces are part of it.
    Field types that should be trimmed say so (``shared.schemas.fields``).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ResponseModel(BaseModel):
    """Base of every response body.

    ``defer_build`` postpones pydantic's schema building to first use, so
    declaring ~30 models costs little when the host imports function_app.
    """

    model_config = ConfigDict(defer_build=True)


class ErrorDetail(ResponseModel):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["The request is not valid."])
    details: dict[str, Any] | None = None
    request_id: str = Field(examples=["4f1c2b8e9a0d4e6f8b7a6c5d4e3f2a1b"])


class ErrorResponse(ResponseModel):
    """Every non-2xx response has this shape."""

    error: ErrorDetail


class MessageResponse(ResponseModel):
    message: str
