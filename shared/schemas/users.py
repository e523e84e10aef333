"""The user as callers see it: never a password hash, never a token."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from shared.models.user import UserSortField
from shared.roles_and_permissions import NPO_SCOPED_ROLES, Permission, RoleName
from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import (
    Email,
    Name,
    NewPassword,
    OptionalPhone,
    OptionalPostalCode,
    OptionalText100,
    OptionalText255,
    password_refusal,
    refusal,
)
from shared.security.password_policy import PERSONAL_INFO, is_personal


class UserOut(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(examples=["0b8f5c1e-4a7d-4c3e-9f21-6d5a8e3b2c10"])
    email: str = Field(examples=["ada@example.org"])
    first_name: str = Field(examples=["Ada"])
    last_name: str = Field(examples=["Lovelace"])
    phone: str | None = Field(default=None, examples=["+1 555 0100"])
    organization_name: str | None = Field(default=None, examples=[None])
    address_line1: str | None = Field(default=None, examples=[None])
    address_line2: str | None = Field(default=None, examples=[None])
    city: str | None = Field(default=None, examples=["Boston"])
    state: str | None = Field(default=None, examples=["MA"])
    postal_code: str | None = Field(default=None, examples=["02110"])
    country: str | None = Field(default=None, examples=["US"])
    role: RoleName = Field(examples=["donor"])
    npo_id: uuid.UUID | None = Field(default=None, examples=[None])
    email_verified: bool
    is_active: bool
    mfa_enabled: bool = False
    mfa_enrollment_required: bool = Field(
        default=False,
        description="The role requires a second factor (MFA_REQUIRED_ROLES) and none is on yet: until one is, "
        "only GET /api/v1/users/me, the /api/v1/auth/mfa routes, logout and the own-session routes are allowed.",
    )
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = Field(default=None, examples=[None])
    erased_at: datetime | None = Field(
        default=None, description="Set when the account's personal data was erased.", examples=[None]
    )


class CurrentUserOut(UserOut):
    """The signed-in user, with what they still owe."""

    consent_required: bool = Field(
        default=False,
        description="A legal document must be accepted (again): GET /api/v1/users/me/consents names it.",
    )


class ContactFields(RequestModel):
    """Phone, organisation and postal address: optional everywhere they appear; "" (a form's
    blank field) means none, like null."""

    phone: OptionalPhone = None
    organization_name: OptionalText255 = None
    address_line1: OptionalText255 = None
    address_line2: OptionalText255 = None
    city: OptionalText100 = None
    state: OptionalText100 = None
    postal_code: OptionalPostalCode = None
    country: OptionalText100 = None


class ProfileUpdate(ContactFields):
    """The profile fields a user (or an admin over them) may change; nothing else.

    A field left out stays as it is; null (or "") clears an optional one.
    """

    # Names may be changed but not cleared: absent is fine, null is not.
    first_name: Name = Field(default=None)  # type: ignore[assignment]  # absent, never null
    last_name: Name = Field(default=None)  # type: ignore[assignment]  # absent, never null


def role_npo_rule(schema: dict[str, Any]) -> None:
    """Publish the role/npo_id rule in the JSON schema, so the contract states it."""
    npo_roles = sorted(role.value for role in NPO_SCOPED_ROLES)
    schema["if"] = {"properties": {"role": {"enum": npo_roles}}, "required": ["role"]}
    schema["then"] = {"properties": {"npo_id": {"type": "string", "format": "uuid"}}, "required": ["npo_id"]}
    schema["else"] = {"properties": {"npo_id": {"type": "null"}}}


class UserCreateRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra=role_npo_rule)

    email: Email
    first_name: Name
    last_name: Name
    role: RoleName
    npo_id: uuid.UUID | None = None
    phone: OptionalPhone = None
    password: NewPassword | None = Field(
        default=None,
        description="A temporary password (the account is created now, and must change it at its first "
        "sign-in); it may not contain their name or email. Without one nobody is created yet: the person is "
        "invited, exactly as by POST /api/v1/invitations, and the answer is the invitation.",
    )

    @model_validator(mode="after")
    def _npo_matches_role(self) -> UserCreateRequest:
        check_npo_for_role(self.role, self.npo_id)
        if self.password is not None:
            refuse_personal_password(self.password, "password", self.email, self.first_name, self.last_name)
        return self


class RoleChangeRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra=role_npo_rule)

    role: RoleName
    npo_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _npo_matches_role(self) -> RoleChangeRequest:
        check_npo_for_role(self.role, self.npo_id)
        return self


def check_npo_for_role(role: RoleName, npo_id: uuid.UUID | None) -> None:
    """npo_admin, event_coordinator and staff carry an npo_id; super_admin and donor do not."""
    if role in NPO_SCOPED_ROLES and npo_id is None:
        raise refusal("npo_id_required", f"npo_id is required for role {role.value}", field="npo_id")
    if role not in NPO_SCOPED_ROLES and npo_id is not None:
        raise refusal("npo_id_not_allowed", f"npo_id must not be set for role {role.value}", field="npo_id")


def refuse_personal_password(password: str, field: str, *person: str | None) -> None:
    """A 422 on ``field`` when the password is built on the person's email address or names."""
    if is_personal(password, *person):
        raise password_refusal([PERSONAL_INFO], field=field)


USER_SORT_PATTERN = "^-?(" + "|".join(field.value for field in UserSortField) + ")$"


class PageQuery(RequestModel):
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=100)


class UserListQuery(PageQuery):
    role: RoleName | None = None
    npo_id: uuid.UUID | None = None
    email_verified: bool | None = None
    is_active: bool | None = None
    search: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")] | None = None
    sort: Annotated[str, StringConstraints(pattern=USER_SORT_PATTERN)] = Field(
        default="-created_at", description="A field name, or -field for descending order."
    )

    @property
    def sort_field(self) -> UserSortField:
        return UserSortField(self.sort.removeprefix("-"))

    @property
    def sort_descending(self) -> bool:
        return self.sort.startswith("-")


class PageMeta(ResponseModel):
    """The paging fields of every list response; ``pages`` derives from the rest."""

    total: int
    page: int
    per_page: int
    pages: int

    @staticmethod
    def fields(total: int, page: int, per_page: int) -> dict[str, int]:
        pages = math.ceil(total / per_page) if total else 0
        return {"total": total, "page": page, "per_page": per_page, "pages": pages}


class UserPage(PageMeta):
    items: list[UserOut]


class SessionOut(ResponseModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool


class SessionList(ResponseModel):
    items: list[SessionOut]


class RoleOut(ResponseModel):
    name: RoleName
    scope: str
    description: str
    reach: str = Field(description="How far the role's platform permissions reach.")
    permissions: list[Permission] = Field(description="The platform permissions other services check.")
    user_admin: list[str] = Field(description="What the role may do through this service's user administration.")


class RoleList(ResponseModel):
    items: list[RoleOut]
