"""/api/v1/users/...: the signed-in user's own account."""

import azure.functions as func

from shared.http.endpoint import ApiRequest, endpoint
from shared.schemas.users import UserOut

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/users"
TAGS = ("users",)


@endpoint(
    bp, "GET", f"{PREFIX}/me", name="users_me", summary="The signed-in user", tags=TAGS, response=UserOut, auth=True
)
def me(request: ApiRequest) -> UserOut:
    """Read from the database on this request: role and status are never stale."""
    return UserOut.model_validate(request.principal.user)
