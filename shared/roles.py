"""The five role names and scopes: plain enums, importable without the ORM."""

from __future__ import annotations

from enum import StrEnum


class RoleName(StrEnum):
    SUPER_ADMIN = "super_admin"
    NPO_ADMIN = "npo_admin"
    EVENT_COORDINATOR = "event_coordinator"
    STAFF = "staff"
    DONOR = "donor"


class RoleScope(StrEnum):
    PLATFORM = "platform"
    NPO = "npo"
    EVENT = "event"
    OWN = "own"


# Roles that belong to one NPO and carry its npo_id; the others never do.
NPO_SCOPED_ROLES = frozenset({RoleName.NPO_ADMIN, RoleName.EVENT_COORDINATOR, RoleName.STAFF})
