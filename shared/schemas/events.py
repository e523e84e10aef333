"""Registered events, event assignments and the permission check, as other Augeo services see them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from shared.roles_and_permissions import CheckReason, Permission
from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import EventName
from shared.schemas.users import PageMeta, UserOut


class EventRegistration(RequestModel):
    npo_id: uuid.UUID = Field(description="The NPO the event belongs to.")
    name: EventName | None = Field(
        default=None, description="What the event is called; set when it is registered (or moved), else kept."
    )


class EventOut(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The events service's id of the event.")
    npo_id: uuid.UUID
    name: str | None
    registered_by: uuid.UUID | None = Field(
        description="Who registered it to this NPO (null once that account is gone, or when it was registered"
        " from its assignments by the upgrade that introduced registration)."
    )
    registered_at: datetime


class EventAssignmentOut(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: uuid.UUID
    assigned_by: uuid.UUID | None = Field(description="Who assigned them (null once that account is gone).")
    assigned_at: datetime


class EventAssignmentList(ResponseModel):
    items: list[EventAssignmentOut]


class EventMemberOut(UserOut):
    """A user assigned to the event, with the assignment's facts."""

    assigned_by: uuid.UUID | None
    assigned_at: datetime


class EventMemberPage(PageMeta):
    items: list[EventMemberOut]


class PermissionCheckRequest(RequestModel):
    permission: Permission = Field(description="One of the platform permissions; anything else is a 422.")
    npo_id: uuid.UUID | None = Field(default=None, description="The NPO the action is in, when the caller knows it.")
    event_id: uuid.UUID | None = Field(default=None, description="The event the action is about, if any.")


class PermissionCheckResponse(ResponseModel):
    allowed: bool
    reason: CheckReason = Field(description="Why, in a word a service can log or branch on.")
