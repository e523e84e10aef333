"""Bodies of /api/v1/invitations/...: inviting, the list, the accept page's two calls."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field, model_validator

from shared.models import InvitationStatus
from shared.roles_and_permissions import RoleName
from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import Email, Name, NewPassword, OpaqueToken, Phone, RefreshTokenTransport
from shared.schemas.legal import AcceptsDocuments
from shared.schemas.users import PageMeta, PageQuery, check_npo_for_role, role_npo_rule


class InvitationRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra=role_npo_rule)

    email: Email
    role: RoleName
    npo_id: uuid.UUID | None = None
    first_name: Name | None = Field(
        default=None, description="A new account starts with it unless the person gives their own when accepting."
    )
    last_name: Name | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _npo_matches_role(self) -> InvitationRequest:
        check_npo_for_role(self.role, self.npo_id)
        return self


class InvitationOut(ResponseModel):
    """An invitation as its administrators see it; never its token."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str = Field(examples=["grace@example.org"])
    role: RoleName
    npo_id: uuid.UUID | None
    status: InvitationStatus = Field(description="`expired`: still pending, but past `expires_at`.")
    first_name: str | None
    last_name: str | None
    invited_by: uuid.UUID | None = Field(description="Who sent it (null once that account is gone).")
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationPage(PageMeta):
    items: list[InvitationOut]


class InvitationListQuery(PageQuery):
    npo_id: uuid.UUID | None = None
    status: InvitationStatus | None = None


class InvitationPreview(ResponseModel):
    """What the accept page shows, and whether it asks for a new password or a sign-in."""

    email: str
    role: RoleName
    npo_id: uuid.UUID | None
    invited_by_name: str | None = Field(description="Who sent it; null when that account no longer has a name.")
    expires_at: datetime
    account_exists: bool = Field(
        description="true: sign in as this address, then accept with the bearer token; false: accept with a password."
    )


class AcceptInvitationRequest(AcceptsDocuments):
    token: OpaqueToken
    password: NewPassword | None = Field(
        default=None, description="Required for a new account (422 naming `password` without it); not read otherwise."
    )
    first_name: Name | None = Field(default=None, description="A new account's; else the invitation's.")
    last_name: Name | None = Field(default=None, description="A new account's; else the invitation's.")
    refresh_token_transport: RefreshTokenTransport = Field(
        default="body", description="A new account's session: how its refresh token is answered."
    )
