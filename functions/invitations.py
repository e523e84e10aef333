"""/api/v1/invitations/...: invite by email, the pending list, re-send, revoke; the accept page's calls."""

from __future__ import annotations

import uuid

import azure.functions as func

from functions.rendering import signed_in_reply, user_out
from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import Answer, Reply, endpoint
from shared.schemas.auth import TokenRequest, TokenResponse
from shared.schemas.invitations import (
    AcceptInvitationRequest,
    InvitationListQuery,
    InvitationOut,
    InvitationPage,
    InvitationPreview,
    InvitationRequest,
)
from shared.schemas.users import UserOut
from shared.services import invitations
from shared.services.paging import Page
from shared.services.principal import Principal

bp = func.Blueprint()  # type: ignore[no-untyped-call]

PREFIX = "api/v1/invitations"
TAGS = ("invitations",)


@endpoint(
    bp,
    "POST",
    PREFIX,
    name="invitations_create",
    summary="Invite someone by email",
    tags=TAGS,
    response_model=InvitationOut,
    status=201,
    also_succeeds_with=(200,),
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.RATE_LIMITED),
    recent_auth=True,
)
def create_invitation(body: InvitationRequest, caller: Principal, client: ClientInfo) -> Reply:
    """super_admin: any role; npo_admin: npo_admin, event_coordinator or staff of their own NPO. The email's
    link opens the admin app's /accept-invitation page. An invitation already pending for the address and
    NPO is answered instead (200), and sent again (unless invitations were sent again to the address three
    times in the last hour)."""
    invited = invitations.invite(caller, body.model_dump(), client)
    return Reply(InvitationOut.model_validate(invited.invitation), status=201 if invited.created else 200)


@endpoint(
    bp,
    "GET",
    PREFIX,
    name="invitations_list",
    summary="List invitations",
    tags=TAGS,
    response_model=InvitationPage,
    auth=True,
    errors=(ErrorCode.FORBIDDEN,),
)
def list_invitations(query: InvitationListQuery, caller: Principal, client: ClientInfo) -> InvitationPage:
    """super_admin: every invitation; npo_admin: their NPO's; newest first. `status=pending` is what is
    still waiting for an answer."""
    filters = invitations.InvitationFilter(npo_id=query.npo_id, status=query.status)
    items, total = invitations.list_invitations(caller, filters, Page(query.page, query.per_page), client)
    return InvitationPage(
        items=[InvitationOut.model_validate(item) for item in items],
        **InvitationPage.fields(total, query.page, query.per_page),
    )


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/{{invitation_id:guid}}/resend",
    name="invitations_resend",
    summary="Send an invitation again",
    tags=TAGS,
    response_model=InvitationOut,
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.INVITATION_NOT_PENDING, ErrorCode.RATE_LIMITED),
    recent_auth=True,
)
def resend_invitation(invitation_id: uuid.UUID, caller: Principal, client: ClientInfo) -> InvitationOut:
    """A new link with a new expiry; the previous link stops working at once. 409 INVITATION_NOT_PENDING
    once accepted or revoked."""
    return InvitationOut.model_validate(invitations.resend(caller, invitation_id, client))


@endpoint(
    bp,
    "DELETE",
    f"{PREFIX}/{{invitation_id:guid}}",
    name="invitations_revoke",
    summary="Revoke an invitation",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.INVITATION_NOT_PENDING),
    recent_auth=True,
)
def revoke_invitation(invitation_id: uuid.UUID, caller: Principal, client: ClientInfo) -> None:
    """Its link stops working at once. 409 INVITATION_NOT_PENDING once accepted."""
    invitations.revoke(caller, invitation_id, client)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/inspect",
    name="invitations_inspect",
    summary="What an invitation link asks",
    tags=TAGS,
    response_model=InvitationPreview,
    errors=((400, ErrorCode.INVALID_TOKEN), ErrorCode.RATE_LIMITED),
)
def inspect_invitation(body: TokenRequest, client: ClientInfo) -> InvitationPreview:
    """For the accept page: who invited, to which role, until when, and whether the address already has an
    account (then sign in before accepting) or not (then choose a password). 400 INVALID_TOKEN for a link
    that is unknown, spent, revoked or expired."""
    preview = invitations.inspect(body.token, client)
    return InvitationPreview.model_validate(preview, from_attributes=True)


@endpoint(
    bp,
    "POST",
    f"{PREFIX}/accept",
    name="invitations_accept",
    summary="Accept an invitation",
    tags=TAGS,
    response_model=UserOut,
    also_answers=(Answer(201, TokenResponse, "A new account, created and signed in: its tokens"),),
    errors=(
        (400, ErrorCode.INVALID_TOKEN),
        ErrorCode.AUTHENTICATION_REQUIRED,  # the address has an account: sign in as it
        ErrorCode.FORBIDDEN,  # signed in as another account
        ErrorCode.DUPLICATE_EMAIL,
        ErrorCode.ROLE_CONFLICT,
        ErrorCode.RATE_LIMITED,
    ),
    bearer_optional=True,
)
def accept_invitation(body: AcceptInvitationRequest, caller: Principal | None, client: ClientInfo) -> Reply | UserOut:
    """A new address: `password` (and names, unless the invitation has them) creates the account, verified
    and active, and answers 201 with its tokens, as a sign-in does; `accepted_documents` as at registration
    (the current version of every legal document published). An address with an account: sign in as it
    and send the bearer token; the account takes the invitation's role and NPO (from its next request) and
    the answer is 200 with the user; 401 without the token, 403 signed in as another account, 409
    ROLE_CONFLICT when the account holds a role in another NPO or a higher one. The link works once."""
    names = (body.first_name, body.last_name)
    accepted = invitations.accept(
        body.token, caller, body.password, names, client, accepted_documents=body.accepted_documents
    )
    if accepted.session is not None:
        return signed_in_reply(accepted.session, body.refresh_token_transport, status=201)
    return user_out(accepted.user)
