"""The audit log as admins read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from shared.schemas.common import ResponseModel
from shared.schemas.fields import IsoDateTime
from shared.schemas.users import PageMeta, PageQuery


class AuditLogQuery(PageQuery):
    user_id: uuid.UUID | None = Field(default=None, description="Events whose actor or target is this user.")
    event_type: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_.]+$")
    since: IsoDateTime | None = Field(default=None, description="Events at or after this time (ISO 8601, with zone).")
    until: IsoDateTime | None = Field(default=None, description="Events at or before this time; before since: none.")


class AuditLogOut(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    actor_user_id: uuid.UUID | None
    target_user_id: uuid.UUID | None
    npo_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    created_at: datetime


class AuditLogPage(PageMeta):
    items: list[AuditLogOut]
