"""The words of access control: the five roles, the platform permissions, why a check answers as it does.

Plain enums, importable without the ORM or the services: settings, models,
request and response schemas and the policy all name them. What each role
may do is the policy's tables (``shared.services.policy``), not this module.
"""

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


class Permission(StrEnum):
    """What other Augeo services ask about a user."""

    NPO_MANAGE = "npo:manage"
    USERS_MANAGE = "users:manage"
    EVENTS_MANAGE = "events:manage"
    AUCTIONS_MANAGE = "auctions:manage"
    REGISTRATIONS_MANAGE = "registrations:manage"
    CHECKIN_PERFORM = "checkin:perform"
    AUDIT_VIEW = "audit:view"
    STAFF_ASSIGN = "staff:assign"
    BIDS_PLACE = "bids:place"
    PROFILE_MANAGE = "profile:manage"


class CheckReason(StrEnum):
    """Why a permission check came out as it did (the ``reason`` of the answer)."""

    SUPER_ADMIN = "super_admin"
    OWN_NPO = "own_npo"
    ASSIGNED_EVENT = "assigned_event"
    THEMSELVES = "themselves"
    NOT_IN_ROLE = "permission_not_in_role"
    OTHER_NPO = "other_npo"
    # An event was named: its registered NPO decided, whatever NPO the caller named.
    EVENT_OF_OWN_NPO = "event_of_own_npo"
    EVENT_OF_OTHER_NPO = "event_of_other_npo"
    EVENT_NOT_REGISTERED = "event_not_registered"
    EVENT_REQUIRED = "event_id_required"
    NOT_ASSIGNED = "event_not_assigned"
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    MFA_ENROLLMENT_REQUIRED = "mfa_enrollment_required"
    MFA_STEP_UP_REQUIRED = "mfa_step_up_required"
    CONSENT_REQUIRED = "consent_required"
