"""Bodies shared by every endpoint: the error shape and plain messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import (
    BodyLimitDetails,
    ConsentDetails,
    DocumentVersionDetails,
    ErrorCode,
    ReauthenticationDetails,
    RetryDetails,
    StepUpDetails,
    ValidationDetails,
)


def is_none(value: object) -> bool:
    """The ``exclude_if`` of a response field the server leaves out, rather than sending null."""
    return value is None


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error.

    Strings are not trimmed globally: a password's spaces are part of it.
    Field types that should be trimmed say so (``shared.schemas.fields``).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ResponseModel(BaseModel):
    """Base of every response body.

    Every field is sent, so the published schema marks each one required
    (a field with a default too: the default is what is sent); a field the
    server leaves out when it has nothing to say declares ``exclude_if``.
    ``defer_build`` postpones pydantic's schema building to first use, so
    declaring ~30 models costs little when the host imports function_app.
    """

    model_config = ConfigDict(defer_build=True, json_schema_serialization_defaults_required=True)


class ErrorDetail(ResponseModel):
    """Any error: each operation's responses narrow ``code`` (and type ``details``) to what it answers."""

    code: ErrorCode = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["The request is not valid."], description="For people; it may change.")
    details: (
        ValidationDetails
        | RetryDetails
        | BodyLimitDetails
        | ReauthenticationDetails
        | StepUpDetails
        | ConsentDetails
        | DocumentVersionDetails
        | None
    ) = Field(default=None, exclude_if=is_none)
    request_id: str = Field(examples=["4f1c2b8e9a0d4e6f8b7a6c5d4e3f2a1b"])


class ErrorResponse(ResponseModel):
    """Every non-2xx response has this shape."""

    error: ErrorDetail


class MessageResponse(ResponseModel):
    message: str = Field(examples=["Password changed. Sign in with your new password."])
