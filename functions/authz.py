"""/api/v1/authz/check: the live permission check other Augeo services call."""

from __future__ import annotations

import azure.functions as func

from shared.context import ClientInfo
from shared.http.endpoint import endpoint
from shared.schemas.events import PermissionCheckRequest, PermissionCheckResponse
from shared.services import authz
from shared.services.principal import LiveSession
from shared.services.rate_limits import Rule

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@endpoint(
    bp,
    "POST",
    "api/v1/authz/check",
    name="authz_check",
    summary="May the bearer's user do this, here, right now?",
    tags=("authz",),
    response_model=PermissionCheckResponse,
    auth=True,
    per_user_limit=Rule.PERMISSION_CHECK_PER_USER,
)
def check(body: PermissionCheckRequest, session: LiveSession, client: ClientInfo) -> PermissionCheckResponse:
    """Called by other services with the user's access token. Decided live (the session, the
    user's role, NPO and assignments as of this request), unlike the token's claims, which
    may be up to one token lifetime old. An event named is decided by the NPO it is registered
    to, not by an npo_id sent with it. An unknown permission is a 422; more than
    RATE_LIMIT_AUTHZ_CHECK_PER_USER checks a window for one user, a 429."""
    result = authz.check(session, body.permission, body.npo_id, body.event_id, client)
    return PermissionCheckResponse(allowed=result.allowed, reason=result.reason)
