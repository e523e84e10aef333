"""Typed errors, the statuses each error code is answered with, and the one place that builds the error body.

Services raise these; the HTTP layer (``shared.http.endpoint``) catches them
and calls :func:`error_body`. Each error code exists once, in :class:`ErrorCode`;
:data:`STATUSES` says with which status (or statuses) the API answers it, and
:data:`DETAILS` what its ``details`` hold when it carries any. An endpoint
declares the codes its handler can raise (``errors=``, a :data:`DeclaredError`
each); the OpenAPI document derives every status from this table, and
docs/api.md's error table is checked against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NotRequired

from typing_extensions import TypedDict

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


# The status each code is answered with; a code answered with two (an emailed
# token is a bad request, a bearer token a failed authentication) lists both,
# and an endpoint that raises it says which (a ``(status, code)`` pair).
STATUSES: dict[ErrorCode, tuple[int, ...]] = {
    ErrorCode.INVALID_JSON: (400,),
    ErrorCode.VALIDATION_ERROR: (422,),
    ErrorCode.INVALID_TOKEN: (400, 401),
    ErrorCode.AUTHENTICATION_REQUIRED: (401,),
    ErrorCode.INVALID_CREDENTIALS: (401,),
    ErrorCode.INVALID_REFRESH_TOKEN: (401,),
    ErrorCode.TOKEN_EXPIRED: (401,),
    ErrorCode.SESSION_ENDED: (401,),
    ErrorCode.REFRESH_TOKEN_REUSED: (401,),
    ErrorCode.CSRF_CHECK_FAILED: (403,),
    ErrorCode.EMAIL_NOT_VERIFIED: (403,),
    ErrorCode.ACCOUNT_DEACTIVATED: (403,),
    ErrorCode.ACCOUNT_ERASED: (409,),
    ErrorCode.PASSWORD_CHANGE_REQUIRED: (403,),
    ErrorCode.MFA_ENROLLMENT_REQUIRED: (403,),
    ErrorCode.MFA_STEP_UP_REQUIRED: (403,),
    ErrorCode.REAUTHENTICATION_REQUIRED: (403,),
    ErrorCode.CONSENT_REQUIRED: (403,),
    ErrorCode.MFA_ALREADY_ENABLED: (409,),
    ErrorCode.MFA_NOT_ENABLED: (409,),
    ErrorCode.MFA_NOT_ENROLLING: (409,),
    ErrorCode.INVALID_MFA_CODE: (400, 401),
    ErrorCode.MFA_CODE_ALREADY_USED: (400, 401),
    ErrorCode.INVALID_MFA_TOKEN: (401,),
    ErrorCode.FORBIDDEN: (403,),
    ErrorCode.NOT_FOUND: (404,),
    ErrorCode.METHOD_NOT_ALLOWED: (405,),
    ErrorCode.DUPLICATE_EMAIL: (409,),
    ErrorCode.CONFLICT: (409,),
    ErrorCode.LAST_SUPER_ADMIN: (409,),
    ErrorCode.ROLE_CONFLICT: (409,),
    ErrorCode.INVITATION_NOT_PENDING: (409,),
    ErrorCode.ROLE_NOT_EVENT_SCOPED: (409,),
    ErrorCode.EVENT_IN_OTHER_NPO: (409,),
    ErrorCode.EVENT_NOT_FOUND: (404,),
    ErrorCode.DOCUMENT_VERSION_CONFLICT: (409,),
    ErrorCode.PAYLOAD_TOO_LARGE: (413,),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415,),
    ErrorCode.RATE_LIMITED: (429,),
    ErrorCode.INTERNAL_ERROR: (500,),
    ErrorCode.SERVICE_UNAVAILABLE: (503,),
}

# What an endpoint declares it can answer: a code, or ``(status, code)`` for a code of two statuses.
DeclaredError = ErrorCode | tuple[int, ErrorCode]


def error_answer(declared: DeclaredError) -> tuple[int, ErrorCode]:
    """The ``(status, code)`` of a declared error; TypeError for one the table does not allow.

    Raised when the declaring module is imported (the test suite imports them
    all), so a wrong declaration never reaches a request.
    """
    if isinstance(declared, int):
        raise TypeError(f"errors=: {declared} is a status; declare codes (ErrorCode.X), their statuses are in STATUSES")
    status, code = (None, declared) if isinstance(declared, ErrorCode) else declared
    statuses = STATUSES.get(code)
    if not statuses:
        raise TypeError(f"{code}: give its status in shared.errors.STATUSES")
    if status is None:
        if len(statuses) > 1:
            raise TypeError(f"{code} is answered with {statuses}: declare ({statuses[0]}, ErrorCode.{code.name})")
        return statuses[0], code
    if status not in statuses:
        raise TypeError(f"{code} is never answered with {status} (shared.errors.STATUSES: {statuses})")
    return status, code


# -- what ``details`` holds, for the codes that carry it --------------------------------------


class FieldProblem(TypedDict):
    """One failing field of a 422: its name (``npo_id``; ``address.city`` inside an object; ``body`` or
    ``query`` for the whole), a message for people, and ``type``, a stable code for programs
    (``password_too_short``, ``email_invalid``, ``missing``, ``extra_forbidden``, ...)."""

    field: str
    message: str
    type: str


class ValidationDetails(TypedDict):
    """The failing fields (at most 20), and how many there were when that is more."""

    fields: list[FieldProblem]
    fields_total: NotRequired[int]


class RetryDetails(TypedDict):
    """When to try again, in whole seconds (as the Retry-After header says)."""

    retry_after_seconds: int


class BodyLimitDetails(TypedDict):
    """The largest request body accepted, in bytes."""

    max_bytes: int


class ReauthenticationDetails(TypedDict):
    """How recent a proof of identity this action needs, in seconds (REAUTH_MAX_AGE_MINUTES), whether
    the renewed proof needs a second-factor code (the user has one on), and the call that renews it."""

    max_age_seconds: int
    code_required: bool
    reauthenticate_with: str


class StepUpDetails(TypedDict):
    """The call that proves the second factor in this session, and that it needs a code (always)."""

    reauthenticate_with: str
    code_required: bool


class OwedDocument(TypedDict):
    """A legal document's kind (``terms_of_service``, ``privacy_policy``) and the version to accept."""

    kind: str
    version: str


class ConsentDetails(TypedDict):
    """The documents to accept, one by one, and the call that accepts each."""

    owed: list[OwedDocument]
    accept_with: str


class DocumentVersionDetails(TypedDict):
    """The version asked to publish, of which kind, and the kind's current version."""

    kind: str
    version: str
    current_version: str | None


# The codes whose error carries ``details``, and their shape; the others carry none.
DETAILS: dict[ErrorCode, type[Mapping[str, Any]]] = {
    ErrorCode.VALIDATION_ERROR: ValidationDetails,
    ErrorCode.RATE_LIMITED: RetryDetails,
    ErrorCode.SERVICE_UNAVAILABLE: RetryDetails,
    ErrorCode.PAYLOAD_TOO_LARGE: BodyLimitDetails,
    ErrorCode.REAUTHENTICATION_REQUIRED: ReauthenticationDetails,
    ErrorCode.MFA_STEP_UP_REQUIRED: StepUpDetails,
    ErrorCode.CONSENT_REQUIRED: ConsentDetails,
    ErrorCode.DOCUMENT_VERSION_CONFLICT: DocumentVersionDetails,
}


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
        details: Mapping[str, Any] | None = None,
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

    @classmethod
    def of_field(cls, field: str, message: str, rule: str) -> ValidationFailedError:
        """A 422 a service decides (it knows what the request alone does not): one field, its rule's type."""
        return cls(details=ValidationDetails(fields=[FieldProblem(field=field, message=message, type=rule)]))


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
            details=RetryDetails(retry_after_seconds=self.retry_after_seconds),
            headers={"Retry-After": str(self.retry_after_seconds)},
        )


class ServiceUnavailableError(AppError):
    """503: a dependency (PostgreSQL, Redis, email provider) did not answer; retry after a few seconds."""

    status_code = 503
    default_code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable. Try again shortly."
    retry_after_seconds = 5

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message,
            details=RetryDetails(retry_after_seconds=self.retry_after_seconds),
            headers={"Retry-After": str(self.retry_after_seconds)},
        )


def error_body(
    code: ErrorCode, message: str, request_id: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The error shape of every non-2xx response (docs/api.md, "Errors")."""
    error: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        error["details"] = dict(details)
    error["request_id"] = request_id
    return {"error": error}
