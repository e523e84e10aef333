"""Who may do what to whom: the one place that decides.

Three tables live here, and nothing else in the service decides a permission:

- The platform permissions other Augeo services ask about
  (``POST /api/v1/authz/check``): each role holds a set of permissions and a
  reach (everything, its own NPO and all its events, the events assigned to
  it, or itself). :func:`check_permission` answers them.
- The user administration of this service: each role holds grants of an
  action and how far it reaches (anyone, the actor's own NPO, only the
  actor). :func:`decide` answers ALLOW, FORBIDDEN (the caller may see the
  target but not do this: 403) or INVISIBLE (the caller may not even know
  the target exists: 404). Event assignments are decided by
  :func:`decide_assignment`, registering and moving events by
  :func:`decide_registration`, and who sees a registered event by
  :func:`may_see_event`.
- What a role may do to the platform itself (publish a legal document):
  :data:`PLATFORM_ACTIONS`, answered by :func:`may_do`.

``GET /api/v1/roles`` is rendered from them (``role_descriptions``), so the
documentation of a role cannot drift from what it may do. Whether a caller's
sign-in is complete enough to use their role at all (a step still owed, a
recent proof) is not a permission: ``sign_in_state`` gates that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shared.errors import AuthorizationError, ConflictError, ErrorCode, NotFoundError
from shared.roles_and_permissions import NPO_SCOPED_ROLES, CheckReason, Permission, RoleName


class Action(StrEnum):
    LIST = "users:list"
    VIEW = "users:view"
    CREATE = "users:create"
    UPDATE = "users:update"
    DEACTIVATE = "users:deactivate"
    ACTIVATE = "users:activate"
    VERIFY_EMAIL = "users:verify_email"
    CHANGE_ROLE = "users:change_role"
    VIEW_AUDIT = "audit:view"
    # Erase another user's personal data (their own: DELETE /api/v1/users/me, with their password).
    ERASE = "users:erase"


class Scope(StrEnum):
    """How far a role's platform permissions reach."""

    EVERYWHERE = "everything"
    OWN_NPO = "own NPO and all its events"
    ASSIGNED_EVENTS = "the events assigned to them, in own NPO"
    THEMSELVES = "themselves"


PERMISSIONS: dict[RoleName, tuple[Scope, frozenset[Permission]]] = {
    RoleName.SUPER_ADMIN: (Scope.EVERYWHERE, frozenset(Permission)),
    RoleName.NPO_ADMIN: (
        Scope.OWN_NPO,
        frozenset(
            {
                Permission.NPO_MANAGE,
                Permission.USERS_MANAGE,
                Permission.EVENTS_MANAGE,
                Permission.AUCTIONS_MANAGE,
                Permission.REGISTRATIONS_MANAGE,
                Permission.CHECKIN_PERFORM,
                Permission.AUDIT_VIEW,
            }
        ),
    ),
    RoleName.EVENT_COORDINATOR: (
        Scope.ASSIGNED_EVENTS,
        frozenset(
            {
                Permission.EVENTS_MANAGE,
                Permission.AUCTIONS_MANAGE,
                Permission.REGISTRATIONS_MANAGE,
                Permission.CHECKIN_PERFORM,
                Permission.STAFF_ASSIGN,
            }
        ),
    ),
    RoleName.STAFF: (Scope.ASSIGNED_EVENTS, frozenset({Permission.REGISTRATIONS_MANAGE, Permission.CHECKIN_PERFORM})),
    RoleName.DONOR: (Scope.THEMSELVES, frozenset({Permission.BIDS_PLACE, Permission.PROFILE_MANAGE})),
}

# Roles whose work is limited to events they are assigned to.
EVENT_SCOPED_ROLES = frozenset(role for role, (scope, _) in PERMISSIONS.items() if scope is Scope.ASSIGNED_EVENTS)


@dataclass(frozen=True)
class Where:
    """Where a permission is asked for: an NPO, an event, or both (either may be absent).

    ``event_npo_id`` is the NPO the event is registered to, read when the
    decision needs it (:func:`needs_event_npo`); None when it is not registered.
    """

    npo_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    event_npo_id: uuid.UUID | None = None


@dataclass(frozen=True)
class CheckResult:
    allowed: bool
    reason: CheckReason


def check_permission(actor: Party, events: frozenset[uuid.UUID], permission: Permission, where: Where) -> CheckResult:
    """May ``actor`` (assigned to ``events``) exercise ``permission`` at ``where``?

    When an event is named, its registered NPO decides and an ``npo_id`` the
    caller named is not believed; without an event, the NPO named decides.
    """
    scope, granted = PERMISSIONS[actor.role]
    if scope is Scope.EVERYWHERE:
        return CheckResult(True, CheckReason.SUPER_ADMIN)
    if permission not in granted:
        return CheckResult(False, CheckReason.NOT_IN_ROLE)
    if scope is Scope.THEMSELVES:
        return CheckResult(True, CheckReason.THEMSELVES)
    if where.event_id is not None:
        return _event_within_reach(actor, scope, events, where.event_id, where.event_npo_id)
    return _npo_within_reach(actor, scope, where.npo_id)


def _event_within_reach(
    actor: Party, scope: Scope, events: frozenset[uuid.UUID], event_id: uuid.UUID, event_npo_id: uuid.UUID | None
) -> CheckResult:
    """Event coordinators and staff reach the events they are assigned to (which an
    assignment guarantees are registered to their NPO); an NPO admin the events
    registered to their NPO. An unregistered event reaches nobody but a super admin."""
    if scope is Scope.ASSIGNED_EVENTS:
        allowed = event_id in events
        return CheckResult(allowed, CheckReason.ASSIGNED_EVENT if allowed else CheckReason.NOT_ASSIGNED)
    if event_npo_id is None:
        return CheckResult(False, CheckReason.EVENT_NOT_REGISTERED)
    if event_npo_id != actor.npo_id:
        return CheckResult(False, CheckReason.EVENT_OF_OTHER_NPO)
    return CheckResult(True, CheckReason.EVENT_OF_OWN_NPO)


def _npo_within_reach(actor: Party, scope: Scope, npo_id: uuid.UUID | None) -> CheckResult:
    """No event named: an NPO admin reaches their NPO (the one named, if any); coordinators
    and staff act only on an event."""
    if npo_id is not None and npo_id != actor.npo_id:
        return CheckResult(False, CheckReason.OTHER_NPO)
    if scope is Scope.OWN_NPO:
        return CheckResult(True, CheckReason.OWN_NPO)
    return CheckResult(False, CheckReason.EVENT_REQUIRED)


def needs_event_npo(role: RoleName, where: Where) -> bool:
    """Whether deciding needs the NPO an event is registered to (an NPO admin naming an event)."""
    return PERMISSIONS[role][0] is Scope.OWN_NPO and where.event_id is not None


class Reach(StrEnum):
    ANY = "any user"
    OWN_NPO = "users of their own NPO"
    SELF = "themselves"


class Decision(StrEnum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"
    INVISIBLE = "invisible"


RANK = {
    RoleName.SUPER_ADMIN: 4,
    RoleName.NPO_ADMIN: 3,
    RoleName.EVENT_COORDINATOR: 2,
    RoleName.STAFF: 1,
    RoleName.DONOR: 0,
}

# Actions nobody may take on themselves, whatever their role (erasing oneself
# goes through DELETE /api/v1/users/me, which asks for the password).
NEVER_ON_SELF = frozenset({Action.DEACTIVATE, Action.CHANGE_ROLE, Action.ERASE})
# Actions that change another user: within an NPO the actor's rank must be
# strictly higher than the target's (an NPO admin manages coordinators and
# staff, never a fellow NPO admin). Seeing a peer is fine.
CHANGES_ANOTHER = frozenset(
    {Action.CREATE, Action.UPDATE, Action.DEACTIVATE, Action.ACTIVATE, Action.CHANGE_ROLE, Action.ERASE}
)


@dataclass(frozen=True)
class Grant:
    action: Action
    reach: Reach


_ADMIN_ACTIONS = (
    Action.LIST,
    Action.VIEW,
    Action.CREATE,
    Action.UPDATE,
    Action.DEACTIVATE,
    Action.ACTIVATE,
    Action.VERIFY_EMAIL,
    Action.CHANGE_ROLE,
    Action.VIEW_AUDIT,
    Action.ERASE,
)
# What only the platform does: vouching for an address (an NPO admin could
# otherwise create an account for anyone's address and sign in as them), and
# erasing someone's personal data for good (a donor of one NPO bids at others).
_PLATFORM_ONLY = frozenset({Action.VERIFY_EMAIL, Action.ERASE})

GRANTS: dict[RoleName, tuple[Grant, ...]] = {
    RoleName.SUPER_ADMIN: tuple(Grant(action, Reach.ANY) for action in _ADMIN_ACTIONS),
    RoleName.NPO_ADMIN: (
        *(Grant(action, Reach.OWN_NPO) for action in _ADMIN_ACTIONS if action not in _PLATFORM_ONLY),
        Grant(Action.VIEW, Reach.SELF),
    ),
    RoleName.EVENT_COORDINATOR: (Grant(Action.VIEW, Reach.SELF),),
    RoleName.STAFF: (Grant(Action.VIEW, Reach.SELF),),
    RoleName.DONOR: (Grant(Action.VIEW, Reach.SELF),),
}


class OwnAccountAction(StrEnum):
    """What every signed-in user may do to their own account, whatever their role.

    Nothing is decided for these (the routes act on the caller alone); they
    are part of the table so that ``GET /api/v1/roles`` lists them from here.
    """

    UPDATE_PROFILE = "users:update_own_profile"
    MANAGE_SESSIONS = "sessions:manage_own"
    MANAGE_CONSENTS = "consents:manage_own"


class PlatformAction(StrEnum):
    """What a role may do to the platform itself, beyond its users."""

    # Publish a version of the terms of service or the privacy policy.
    PUBLISH_LEGAL_DOCUMENTS = "legal_documents:publish"


PLATFORM_ACTIONS: dict[RoleName, frozenset[PlatformAction]] = {
    RoleName.SUPER_ADMIN: frozenset(PlatformAction),
}


def may_do(role: RoleName, action: PlatformAction) -> bool:
    """May ``role`` take this platform action?"""
    return action in PLATFORM_ACTIONS.get(role, frozenset())


# The roles each role may give (by creating a user or changing a role).
ASSIGNABLE: dict[RoleName, frozenset[RoleName]] = {
    RoleName.SUPER_ADMIN: frozenset(RoleName),
    RoleName.NPO_ADMIN: frozenset(NPO_SCOPED_ROLES),
}


class _Account(Protocol):
    id: uuid.UUID
    role: str
    npo_id: uuid.UUID | None


@dataclass(frozen=True)
class Party:
    """The facts the policy needs about an actor or a target."""

    id: uuid.UUID
    role: RoleName
    npo_id: uuid.UUID | None

    @classmethod
    def of(cls, account: _Account) -> Party:
        """The party a user row is."""
        return cls(id=account.id, role=RoleName(account.role), npo_id=account.npo_id)


def _reaches(grant: Grant, actor: Party, target: Party) -> bool:
    if grant.reach is Reach.ANY:
        return True
    if grant.reach is Reach.SELF:
        return actor.id == target.id
    if actor.npo_id is None or target.npo_id != actor.npo_id:
        return False
    if grant.action in CHANGES_ANOTHER and target.id != actor.id:
        return RANK[target.role] < RANK[actor.role]
    return RANK[target.role] <= RANK[actor.role]


def _granted(actor: Party, action: Action, target: Party) -> bool:
    return any(g.action is action and _reaches(g, actor, target) for g in GRANTS[actor.role])


def decide(actor: Party, action: Action, target: Party) -> Decision:
    """May ``actor`` take ``action`` on ``target``?"""
    if not _granted(actor, Action.VIEW, target):
        return Decision.INVISIBLE
    if action is Action.VIEW:
        return Decision.ALLOW
    if action in NEVER_ON_SELF and actor.id == target.id:
        return Decision.FORBIDDEN
    return Decision.ALLOW if _granted(actor, action, target) else Decision.FORBIDDEN


def enforce(
    decision: Decision, forbidden_message: str | None = None, *, not_found_message: str = "User not found."
) -> None:
    """What a decision on a target means to the caller: 404 (``not_found_message``) when it is
    invisible to them, 403 (``forbidden_message``, else the usual one) when visible but not theirs."""
    if decision is Decision.INVISIBLE:
        raise NotFoundError(not_found_message)
    if decision is Decision.FORBIDDEN:
        raise AuthorizationError(forbidden_message)


class _Erasable(Protocol):
    erased_at: datetime | None


def refuse_if_erased(target: _Erasable) -> None:
    """An erased account takes no change: nothing may bring personal data back to it, or let it sign in."""
    if target.erased_at is not None:
        raise ConflictError("This account was erased.", code=ErrorCode.ACCOUNT_ERASED)


def may_act_at_all(actor_role: RoleName, action: Action) -> bool:
    """Whether the role holds ``action`` for anyone (collection routes: list, create, audit)."""
    return any(g.action is action for g in GRANTS[actor_role])


def require_action(actor_role: RoleName, action: Action) -> None:
    """403 unless the role holds ``action`` for anyone (see :func:`may_act_at_all`)."""
    if not may_act_at_all(actor_role, action):
        raise AuthorizationError()


def list_scope(actor: Party) -> uuid.UUID | None:
    """None: every user; else the only NPO whose users the actor may list."""
    reaches = {g.reach for g in GRANTS[actor.role] if g.action is Action.LIST}
    if Reach.ANY in reaches:
        return None
    return actor.npo_id


def may_assign(actor: Party, role: RoleName, npo_id: uuid.UUID | None) -> bool:
    """May ``actor`` give ``role`` (in ``npo_id``) to someone, by creation or change?"""
    if role not in ASSIGNABLE.get(actor.role, frozenset()):
        return False
    if actor.role is RoleName.SUPER_ADMIN:
        return True
    return npo_id is not None and npo_id == actor.npo_id


def decide_invitation(actor: Party, role: RoleName, npo_id: uuid.UUID | None) -> Decision:
    """May ``actor`` see an invitation to ``role`` in ``npo_id`` (as they see that NPO's users: else
    INVISIBLE), and re-send or revoke it (as they could have sent it: else FORBIDDEN)?"""
    if not may_act_at_all(actor.role, Action.LIST):
        return Decision.INVISIBLE
    scope = list_scope(actor)
    if scope is not None and npo_id != scope:
        return Decision.INVISIBLE
    allowed = may_act_at_all(actor.role, Action.CREATE) and may_assign(actor, role, npo_id)
    return Decision.ALLOW if allowed else Decision.FORBIDDEN


def decide_assignment(actor: Party, actor_events: frozenset[uuid.UUID], target: Party, event_id: uuid.UUID) -> Decision:
    """May ``actor`` assign ``target`` to (or remove them from) ``event_id``?

    A super admin anywhere; an NPO admin for their NPO's users; an event
    coordinator assigned to that event, for a staff user of the same NPO.
    Whether the target's role can be assigned at all is checked separately
    (409), after this.
    """
    if actor.role is RoleName.SUPER_ADMIN:
        return Decision.ALLOW
    same_npo = actor.npo_id is not None and target.npo_id == actor.npo_id
    if actor.role is RoleName.NPO_ADMIN:
        return Decision.ALLOW if same_npo else Decision.INVISIBLE
    if actor.role is RoleName.EVENT_COORDINATOR and same_npo:
        if target.role is RoleName.STAFF and event_id in actor_events:
            return Decision.ALLOW
        return Decision.FORBIDDEN
    return Decision.FORBIDDEN if target.id == actor.id else Decision.INVISIBLE


def members_scope(
    actor: Party, actor_events: frozenset[uuid.UUID], event_id: uuid.UUID
) -> tuple[bool, uuid.UUID | None]:
    """Whether ``actor`` may list the event's members, and the only NPO whose members they see (None: all)."""
    if actor.role is RoleName.SUPER_ADMIN:
        return True, None
    if actor.role is RoleName.NPO_ADMIN:
        return True, actor.npo_id
    if actor.role is RoleName.EVENT_COORDINATOR and event_id in actor_events:
        return True, None
    return False, None


class Registration(StrEnum):
    """What a ``PUT /api/v1/events/{id}`` the policy allowed does."""

    REGISTER = "register"  # not registered yet
    KEEP = "keep"  # already registered to that NPO: nothing changes
    MOVE = "move"  # registered to another NPO: moved (a super admin's)


def decide_registration(actor: Party, npo_id: uuid.UUID, registered_npo_id: uuid.UUID | None) -> Registration:
    """May ``actor`` say that an event (now registered to ``registered_npo_id``, or not
    at all) belongs to ``npo_id``?

    A super admin for any NPO, and moves events between NPOs; an NPO admin for
    their own NPO only, and only while the event is unregistered (403 for
    another NPO; 409 ``EVENT_IN_OTHER_NPO`` for an event another NPO holds).
    Nobody else registers events.
    """
    if actor.role is not RoleName.SUPER_ADMIN and not (actor.role is RoleName.NPO_ADMIN and npo_id == actor.npo_id):
        raise AuthorizationError("You may not register events for this NPO.")
    if registered_npo_id is None:
        return Registration.REGISTER
    if registered_npo_id == npo_id:
        return Registration.KEEP
    if actor.role is not RoleName.SUPER_ADMIN:
        raise ConflictError("This event belongs to another NPO.", code=ErrorCode.EVENT_IN_OTHER_NPO)
    return Registration.MOVE


def may_see_event(actor: Party, event_npo_id: uuid.UUID) -> bool:
    """Super admins see every registered event; anyone else those of their own NPO."""
    return actor.role is RoleName.SUPER_ADMIN or (actor.npo_id is not None and actor.npo_id == event_npo_id)
