"""Typed errors and the one place that turns them into the error body.

Services raise these; the HTTP layer (``shared.http.endpoint``) catches them
and calls :func:`error_body`. Each error code exists once, in :class:`ErrorCode`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from shared.field_messages import field_sentence


class ErrorCode(StrEnum):
    """Every machine-readable error code a caller can see."""

    INVALID_JSON = "INVALID_JSON"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_TOKEN = "INVALID_TOKEN"
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    SESSION_ENDED = "SESSION_ENDED"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    CSRF_CHECK_FAILED = "CSRF_CHECK_FAILED"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    ACCOUNT_DEACTIVATED = "ACCOUNT_DEACTIVATED"
    ACCOUNT_ERASED = "ACCOUNT_ERASED"
    PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED"
    MFA_ENROLLMENT_REQUIRED = "MFA_ENROLLMENT_REQUIRED"
    MFA_STEP_UP_REQUIRED = "MFA_STEP_UP_REQUIRED"
    REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    MFA_ALREADY_ENABLED = "MFA_ALREADY_ENABLED"
    MFA_NOT_ENABLED = "MFA_NOT_ENABLED"
    MFA_NOT_ENROLLING = "MFA_NOT_ENROLLING"
    INVALID_MFA_CODE = "INVALID_MFA_CODE"
    MFA_CODE_ALREADY_USED = "MFA_CODE_ALREADY_USED"
    INVALID_MFA_TOKEN = "INVALID_MFA_TOKEN"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
    CONFLICT = "CONFLICT"
    LAST_SUPER_ADMIN = "LAST_SUPER_ADMIN"
    ROLE_CONFLICT = "ROLE_CONFLICT"
    INVITATION_NOT_PENDING = "INVITATION_NOT_PENDING"
    ROLE_NOT_EVENT_SCOPED = "ROLE_NOT_EVENT_SCOPED"
    EVENT_IN_OTHER_NPO = "EVENT_IN_OTHER_NPO"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND"
    DOCUMENT_VERSION_CONFLICT = "DOCUMENT_VERSION_CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class AppError(Exception):
    """An error with a status, a code and a message that is safe to show a caller."""

    status_code = 500
    default_code = ErrorCode.INTERNAL_ERROR
    default_message = "An unexpected error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequestError(AppError):
    status_code = 400
    default_code = ErrorCode.INVALID_JSON
    default_message = "The request could not be understood."


class AuthenticationError(AppError):
    """401: who the caller is could not be established. Carries WWW-Authenticate.

    The challenge names no error when no credential came (RFC 6750 §3.1) and
    for a wrong password or code; :class:`TokenRejectedError` says which token failed.
    """

    status_code = 401
    default_code = ErrorCode.AUTHENTICATION_REQUIRED
    default_message = "Sign in to continue."
    challenge = 'Bearer realm="augeo"'

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", self.challenge)


class TokenRejectedError(AuthenticationError):
    """401: a token came and is not honoured: expired, ended, reused or unknown (the code says which).

    ``error="invalid_token"`` is RFC 6750 §3.1's word for all of them; the
    code in the body tells a client whether to refresh or to sign in again.
    """

    default_code = ErrorCode.INVALID_TOKEN
    default_message = "Your sign-in is not valid. Sign in again."
    challenge = 'Bearer realm="augeo", error="invalid_token"'


class SessionEndedError(TokenRejectedError):
    """401: the token was good, but its session (or its user's account) is no longer live: sign in again."""

    default_code = ErrorCode.SESSION_ENDED
    default_message = "Your session has ended. Sign in again."


class AuthorizationError(AppError):
    status_code = 403
    default_code = ErrorCode.FORBIDDEN
    default_message = "You are not allowed to do this."


class NotFoundError(AppError):
    status_code = 404
    default_code = ErrorCode.NOT_FOUND
    default_message = "The resource was not found."


class MethodNotAllowedError(AppError):
    status_code = 405
    default_code = ErrorCode.METHOD_NOT_ALLOWED
    default_message = "This method is not allowed on this resource."

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(headers={"Allow": ", ".join(sorted(allowed))})


class ConflictError(AppError):
    status_code = 409
    default_code = ErrorCode.CONFLICT
    default_message = "The request conflicts with the current state."


class DuplicateEmailError(ConflictError):
    """409: the address already belongs to an account (registration or admin creation)."""

    default_code = ErrorCode.DUPLICATE_EMAIL
    default_message = "An account with this email already exists."


class PayloadTooLargeError(AppError):
    status_code = 413
    default_code = ErrorCode.PAYLOAD_TOO_LARGE
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(AppError):
    status_code = 415
    default_code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    default_message = "The request body must be application/json."


class ValidationFailedError(AppError):
    """422: ``details.fields`` names each failing field, and the message the first one in words."""

    status_code = 422
    default_code = ErrorCode.VALIDATION_ERROR
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        fields = (kwargs.get("details") or {}).get("fields")
        if message is None and fields:
            message = field_sentence(fields[0]["field"], fields[0]["message"])
        super().__init__(message, **kwargs)


class RateLimitedError(AppError):
    """429 with Retry-After, in whole seconds, rounded up.

    ``first_in_window``: whether this is the first refusal of the limit's
    window (the one worth auditing; the limiter knows it, in the same call).
    """

    status_code = 429
    default_code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests. Try again later."

    def __init__(self, retry_after_seconds: int, message: str | None = None, *, first_in_window: bool = True) -> None:
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        self.first_in_window = first_in_window
        super().__init__(
            message,
            details={"retry_after_seconds": self.retry_after_seconds},
            headers={"Retry-After": str(self.retry_after_seconds)},
        )


class ServiceUnavailableError(AppError):
    """503: a dependency (PostgreSQL, Redis, email provider) did not answer."""

    status_code = 503
    default_code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable. Try again shortly."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", "5")


def error_body(code: ErrorCode, message: str, request_id: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error shape of every non-2xx response (docs/api.md, "Errors")."""
    error: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        error["details"] = details
    error["request_id"] = request_id
    return {"error": error}
