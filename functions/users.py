"""/api/v1/users/...: own account and sessions, and user administration."""

from __future__ import annotations

import uuid

import azure.functions as func

from functions.rendering import current_user_out, user_out
from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import Answer, Reply, endpoint
from shared.schemas.invitations import InvitationOut
from shared.schemas.privacy import EraseAccountRequest, PersonalDataExport
from shared.schemas.users import (
    CurrentUserOut,
    ProfileUpdate,
    RoleChangeRequest,
    SessionList,
    SessionOut,
    UserCreateRequest,
    UserListQuery,
    UserOut,
    UserPage,
)
from shared.services import invitations, own_sessions, personal_data, users
from shared.services.paging import Page
from shared.services.principal import Principal
from shared.services.sign_in_state import PendingStep

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/users"
TAGS = ("users",)
SESSION_TAGS = ("sessions",)
PRIVACY_TAGS = ("privacy",)
# A user who must enrol a second factor, prove it in this session or accept a legal document may
# still see and end their sessions.
OWN_SESSIONS_DESPITE = (PendingStep.MFA_ENROLLMENT, PendingStep.MFA_STEP_UP, PendingStep.CONSENT)
# Refusing (or withdrawing) consent never stands between a person and their data: access and erasure stay open.
PERSONAL_DATA = (PendingStep.CONSENT,)

# What an administrator's act on another user can refuse: a user they may not see (404),
# one they see but may not act on (403), an erased account (409).
ON_A_USER = (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN, ErrorCode.ACCOUNT_ERASED)


# -- the caller's own account ------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/me",
    name="users_me",
    summary="The signed-in user",
    tags=TAGS,
    response_model=CurrentUserOut,
    auth=True,
    allowed_despite=tuple(PendingStep),
)
def me(caller: Principal) -> CurrentUserOut:
    """Read from the database on this request: role and status are never stale. `consent_required`: a legal
    document must be accepted (again) before anything but this, the consent routes, logout, the own-session
    and the personal-data routes answers."""
    return current_user_out(users.get_me(caller), caller.pending_steps)


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/me",
    name="users_update_me",
    summary="Update the signed-in user's profile",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
)
def update_me(body: ProfileUpdate, caller: Principal) -> UserOut:
    """Profile fields only; email, role, npo_id, flags or unknown fields are a 422."""
    return user_out(users.update_own_profile(caller, body.model_dump(exclude_unset=True)))


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/me/sessions",
    name="users_my_sessions",
    summary="The signed-in user's active sessions",
    tags=SESSION_TAGS,
    response_model=SessionList,
    auth=True,
    allowed_despite=OWN_SESSIONS_DESPITE,
)
def my_sessions(caller: Principal) -> SessionList:
    sessions = own_sessions.list_sessions(caller)
    return SessionList(items=[SessionOut.model_validate(session, from_attributes=True) for session in sessions])


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/me/sessions/{{session_id:guid}}",
    name="users_end_my_session",
    summary="Sign one of my devices out",
    tags=SESSION_TAGS,
    status=204,
    auth=True,
    errors=(ErrorCode.NOT_FOUND,),
    allowed_despite=OWN_SESSIONS_DESPITE,
)
def end_my_session(session_id: uuid.UUID, caller: Principal, client: ClientInfo) -> None:
    """That device's tokens stop working on its very next request."""
    own_sessions.end_session(caller, session_id, client)


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/me/sessions",
    name="users_end_my_other_sessions",
    summary="Sign every other device out",
    tags=SESSION_TAGS,
    status=204,
    auth=True,
    allowed_despite=OWN_SESSIONS_DESPITE,
)
def end_my_other_sessions(caller: Principal, client: ClientInfo) -> None:
    own_sessions.end_other_sessions(caller, client)


# -- personal data ----------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/me/export",
    name="users_export_me",
    summary="Everything held about me",
    tags=PRIVACY_TAGS,
    response_model=PersonalDataExport,
    auth=True,
    recent_auth=True,
    allowed_despite=PERSONAL_DATA,
)
def export_me(caller: Principal, client: ClientInfo) -> PersonalDataExport:
    """Profile, sessions (times, IP addresses, browsers), event assignments, second-factor status, my consents
    to the legal documents, the audit events about me and the emails sent to me; never a password hash, token,
    secret or email body. Needs a recent proof of identity: a stolen access token alone does not carry the
    history off."""
    return PersonalDataExport.model_validate(personal_data.export(caller, client), from_attributes=True)


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/me",
    name="users_erase_me",
    summary="Erase my account and my personal data",
    tags=PRIVACY_TAGS,
    status=204,
    auth=True,
    errors=(ErrorCode.INVALID_CREDENTIALS, ErrorCode.LAST_SUPER_ADMIN, ErrorCode.RATE_LIMITED),
    recent_auth=True,
    allowed_despite=PERSONAL_DATA,
)
def erase_me(body: EraseAccountRequest, caller: Principal, client: ClientInfo) -> None:
    """Needs the password (wrong ones count like a password change's). Every session ends at once; the
    account never signs in again and keeps only its id; the address may register again. The last active
    super admin cannot (409 LAST_SUPER_ADMIN)."""
    users.erase_self(caller, body.password, client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{user_id:guid}}/erase",
    name="users_erase",
    summary="Erase a user's account and personal data",
    tags=PRIVACY_TAGS,
    status=204,
    auth=True,
    errors=(*ON_A_USER, ErrorCode.LAST_SUPER_ADMIN),
    recent_auth=True,
)
def erase_user(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> None:
    """super_admin only, never themselves (DELETE /users/me is theirs). The account keeps its id and nothing
    else; 409 ACCOUNT_ERASED when it already was, LAST_SUPER_ADMIN for the last active super admin."""
    users.erase_user(caller, user_id, client)


# -- administration -------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    PREFIX,
    name="users_list",
    summary="List users",
    tags=TAGS,
    response_model=UserPage,
    auth=True,
    errors=(ErrorCode.FORBIDDEN,),
)
def list_users(query: UserListQuery, caller: Principal, client: ClientInfo) -> UserPage:
    """super_admin: every user; npo_admin: the users of their NPO; others 403."""
    filters = users.UserFilter(
        role=query.role,
        npo_id=query.npo_id,
        email_verified=query.email_verified,
        is_active=query.is_active,
        search=query.search,
    )
    order = users.UserOrder(query.sort_field, query.sort_descending)
    items, total = users.list_users(caller, filters, order, Page(query.page, query.per_page), client)
    return UserPage(items=[user_out(u) for u in items], **UserPage.fields(total, query.page, query.per_page))


@endpoint(
    bp,
    "POST",
    PREFIX,
    name="users_create",
    summary="Create a user, or invite them",
    tags=TAGS,
    response_model=UserOut,
    status=201,
    also_answers=(Answer(202, InvitationOut, "No password: the person is invited (the invitation, new or pending)"),),
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.DUPLICATE_EMAIL, ErrorCode.RATE_LIMITED),
    recent_auth=True,
)
def create_user(body: UserCreateRequest, caller: Principal, client: ClientInfo) -> Reply | UserOut:
    """With a password: the account is created now (201 the user), unverified, and the password is temporary.
    Without one: nobody is created yet; the person is invited, by the same rules, limits and email as
    POST /api/v1/invitations (202 the invitation: a new one, or the one already pending for the address and
    NPO), and the account exists once they accept."""
    fields = body.model_dump(exclude={"password"})
    if body.password is None:
        invited = invitations.invite(caller, fields, client)
        return Reply(InvitationOut.model_validate(invited.invitation), status=202)
    return user_out(users.create_user(caller, fields, body.password, client))


@endpoint(
    bp,
    "GET",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_get",
    summary="Get a user",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
    errors=(ErrorCode.NOT_FOUND,),
)
def get_user(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> UserOut:
    return user_out(users.get_user(caller, user_id, client))


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_update",
    summary="Update a user's profile",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
    errors=ON_A_USER,
    recent_auth=True,
)
def update_user(user_id: uuid.UUID, body: ProfileUpdate, caller: Principal, client: ClientInfo) -> UserOut:
    return user_out(users.update_profile(caller, user_id, body.model_dump(exclude_unset=True), client))


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/{{user_id:guid}}",
    name="users_deactivate",
    summary="Deactivate a user",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(*ON_A_USER, ErrorCode.LAST_SUPER_ADMIN),
    recent_auth=True,
)
def deactivate_user(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> None:
    """Soft: the account stays, every session ends at once, sign-in answers 403 ACCOUNT_DEACTIVATED."""
    users.deactivate(caller, user_id, client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{user_id:guid}}/activate",
    name="users_activate",
    summary="Reactivate a user",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
    errors=ON_A_USER,
    recent_auth=True,
)
def activate_user(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> UserOut:
    return user_out(users.activate(caller, user_id, client))


@endpoint(
    bp,
    "PATCH",
    f"{PREFIX}/{{user_id:guid}}/role",
    name="users_change_role",
    summary="Change a user's role",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
    errors=(*ON_A_USER, ErrorCode.LAST_SUPER_ADMIN),
    recent_auth=True,
)
def change_role(user_id: uuid.UUID, body: RoleChangeRequest, caller: Principal, client: ClientInfo) -> UserOut:
    """Takes effect on the target user's very next request."""
    return user_out(users.change_role(caller, user_id, body.role, body.npo_id, client))


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{user_id:guid}}/verify-email",
    name="users_verify_email",
    summary="Mark a user's email verified",
    tags=TAGS,
    response_model=UserOut,
    auth=True,
    errors=ON_A_USER,
    recent_auth=True,
)
def verify_user_email(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> UserOut:
    """Also activates the account unless an admin deactivated it."""
    return user_out(users.verify_email_by_admin(caller, user_id, client))
