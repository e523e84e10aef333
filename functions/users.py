"""/api/v1/users/...: own account and sessions, and user administration."""

from __future__ import annotations

import azure.functions as func

from shared.http.endpoint import ApiRequest, endpoint
from shared.http.request import route_uuid
from shared.schemas.users import (
    ProfileUpdate,
    RoleChangeRequest,
    SessionList,
    UserCreateRequest,
    UserListQuery,
    UserOut,
    UserPage,
)
from shared.services import own_sessions, users

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/users"
TAGS = ("users",)
SESSION_TAGS = ("sessions",)


def _out(user: object) -> UserOut:
    return UserOut.model_validate(user)


# -- the caller's own account ------------------------------------------------------------


@endpoint(
    bp, "GET", f"{PREFIX}/me", name="users_me", summary="The signed-in user", tags=TAGS, response=UserOut, auth=True
)
def me(request: ApiRequest) -> UserOut:
    """Read from the database on this request: role and status are never stale."""
    return _out(request.principal.user)


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/me",
    name="users_update_me",
    summary="Update the signed-in user's profile",
    tags=TAGS,
    request=ProfileUpdate,
    response=UserOut,
    auth=True,
)
def update_me(request: ApiRequest) -> UserOut:
    """Profile fields only; email, role, npo_id, flags or unknown fields are a 422."""
    changes = request.body.model_dump(exclude_unset=True)
    return _out(users.update_own_profile(request.principal, changes))


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/me/sessions",
    name="users_my_sessions",
    summary="The signed-in user's active sessions",
    tags=SESSION_TAGS,
    response=SessionList,
    auth=True,
)
def my_sessions(request: ApiRequest) -> SessionList:
    return SessionList(items=own_sessions.list_sessions(request.principal))


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/me/sessions/{{session_id:guid}}",
    name="users_end_my_session",
    summary="Sign one of my devices out",
    tags=SESSION_TAGS,
    status=204,
    auth=True,
    errors=(404,),
)
def end_my_session(request: ApiRequest) -> None:
    """That device's tokens stop working on its very next request."""
    own_sessions.end_session(request.principal, route_uuid(request.route_params, "session_id"), request.client)


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/me/sessions",
    name="users_end_my_other_sessions",
    summary="Sign every other device out",
    tags=SESSION_TAGS,
    status=204,
    auth=True,
)
def end_my_other_sessions(request: ApiRequest) -> None:
    own_sessions.end_other_sessions(request.principal, request.client)


# -- administration -------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    PREFIX,
    name="users_list",
    summary="List users",
    tags=TAGS,
    query=UserListQuery,
    response=UserPage,
    auth=True,
    errors=(403,),
)
def list_users(request: ApiRequest) -> UserPage:
    """super_admin: every user; npo_admin: the users of their NPO; others 403."""
    query: UserListQuery = request.query
    items, total = users.list_users(request.principal, query)
    return UserPage(items=[_out(u) for u in items], **UserPage.fields(total, query))


@endpoint(
    bp,
    "POST",
    PREFIX,
    name="users_create",
    summary="Create a user",
    tags=TAGS,
    request=UserCreateRequest,
    response=UserOut,
    status=201,
    auth=True,
    errors=(403, 409),
)
def create_user(request: ApiRequest) -> UserOut:
    """Without a password the invitation email carries a set-password link."""
    body: UserCreateRequest = request.body
    fields = body.model_dump(exclude={"password"})
    return _out(users.create_user(request.principal, fields, body.password, request.client))


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_get",
    summary="Get a user",
    tags=TAGS,
    response=UserOut,
    auth=True,
    errors=(404,),
)
def get_user(request: ApiRequest) -> UserOut:
    return _out(users.get_user(request.principal, route_uuid(request.route_params, "user_id")))


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_update",
    summary="Update a user's profile",
    tags=TAGS,
    request=ProfileUpdate,
    response=UserOut,
    auth=True,
    errors=(403, 404),
)
def update_user(request: ApiRequest) -> UserOut:
    changes = request.body.model_dump(exclude_unset=True)
    user_id = route_uuid(request.route_params, "user_id")
    return _out(users.update_profile(request.principal, user_id, changes, request.client))


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_deactivate",
    summary="Deactivate a user",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(403, 404, 409),
)
def deactivate_user(request: ApiRequest) -> None:
    """Soft: the account stays, every session ends at once, sign-in answers 403 ACCOUNT_DEACTIVATED."""
    users.deactivate(request.principal, route_uuid(request.route_params, "user_id"), request.client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{user_id:guid}}/activate",
    name="users_activate",
    summary="Reactivate a user",
    tags=TAGS,
    response=UserOut,
    auth=True,
    errors=(403, 404),
)
def activate_user(request: ApiRequest) -> UserOut:
    return _out(users.activate(request.principal, route_uuid(request.route_params, "user_id"), request.client))


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/{{user_id:guid}}/role",
    name="users_change_role",
    summary="Change a user's role",
    tags=TAGS,
    request=RoleChangeRequest,
    response=UserOut,
    auth=True,
    errors=(403, 404, 409),
)
def change_role(request: ApiRequest) -> UserOut:
    """Takes effect on the target user's very next request."""
    body: RoleChangeRequest = request.body
    user_id = route_uuid(request.route_params, "user_id")
    return _out(users.change_role(request.principal, user_id, body.role, body.npo_id, request.client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{user_id:guid}}/verify-email",
    name="users_verify_email",
    summary="Mark a user's email verified",
    tags=TAGS,
    response=UserOut,
    auth=True,
    errors=(403, 404),
)
def verify_user_email(request: ApiRequest) -> UserOut:
    """Also activates the account unless an admin deactivated it."""
    user_id = route_uuid(request.route_params, "user_id")
    return _out(users.verify_email_by_admin(request.principal, user_id, request.client))
