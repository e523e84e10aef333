"""Bodies of the personal-data routes: erasing an account, and everything held about a user.

The export names what is kept and never a secret: no password hash, no token
or its hash, no second-factor secret or recovery code, no email body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from shared.roles_and_permissions import RoleName
from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import GivenPassword


class EraseAccountRequest(RequestModel):
    password: GivenPassword = Field(description="The account's current password, as for a password change.")


class ExportedProfile(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    phone: str | None
    organization_name: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    role: RoleName
    npo_id: uuid.UUID | None
    email_verified: bool
    email_verified_at: datetime | None
    is_active: bool
    deactivated_at: datetime | None
    last_login_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ExportedSession(ResponseModel):
    """One sign-in: when, from where (IP address, browser), and how it ended."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    ip_address: str | None
    user_agent: str | None


class ExportedAssignment(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: uuid.UUID
    assigned_by: uuid.UUID | None
    assigned_at: datetime


class ExportedSecondFactor(ResponseModel):
    """Whether a second factor is on, never its secret or codes."""

    enabled: bool
    enrolled_at: datetime | None = Field(description="When the authenticator app was confirmed.")
    recovery_codes_left: int


class ExportedConsent(ResponseModel):
    """An acceptance or withdrawal of a legal document, and where it came from (the proof of it)."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    version: str
    action: str
    at: datetime
    ip_address: str | None
    user_agent: str | None


class ExportedAuditEvent(ResponseModel):
    """An audit event about the user. The IP address and user agent are given only for
    the user's own requests: those of an administrator acting on them are not theirs."""

    id: uuid.UUID
    event_type: str
    actor_user_id: uuid.UUID | None
    target_user_id: uuid.UUID | None
    npo_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime


class ExportedEmail(ResponseModel):
    """A message sent (or queued) to the user: what and when, never its body or link."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    template: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None


class ExportedInvitation(ResponseModel):
    """An invitation sent to the user's address: what it asked, who sent it, how it ended; never its link."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: RoleName
    npo_id: uuid.UUID | None
    status: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class RetentionDays(ResponseModel):
    """How long each kind of record is kept after it ends, in days."""

    sessions: int
    email_tokens: int
    emails: int
    audit_events: int


class PersonalDataExport(ResponseModel):
    """Everything this service holds about the signed-in user."""

    generated_at: datetime
    profile: ExportedProfile
    sessions: list[ExportedSession]
    event_assignments: list[ExportedAssignment]
    second_factor: ExportedSecondFactor
    consents: list[ExportedConsent]
    audit_events: list[ExportedAuditEvent]
    emails: list[ExportedEmail]
    invitations: list[ExportedInvitation]
    retention_days: RetentionDays
