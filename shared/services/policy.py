"""Who may do what to whom: the one place that decides, and the roles' descriptions.

Each role holds grants: an action and how far it reaches (anyone, the actor's
own NPO, only the actor). ``decide`` answers ALLOW, FORBIDDEN (the caller may
see the target but not do this: 403) or INVISIBLE (the caller may not even
know the target exists: 404). ``GET /api/v1/roles`` is rendered from the same
grants, so the documentation of a role cannot drift from what it may do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import AuthorizationError, ErrorCode
from shared.roles import NPO_SCOPED_ROLES, RoleName


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

# Actions nobody may take on themselves, whatever their role.
NEVER_ON_SELF = frozenset({Action.DEACTIVATE, Action.CHANGE_ROLE})
# Actions that change another user: within an NPO the actor's rank must be
# strictly higher than the target's (an NPO admin manages coordinators and
# staff, never a fellow NPO admin). Seeing a peer is fine.
CHANGES_ANOTHER = frozenset({Action.CREATE, Action.UPDATE, Action.DEACTIVATE, Action.ACTIVATE, Action.CHANGE_ROLE})


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
)

GRANTS: dict[RoleName, tuple[Grant, ...]] = {
    RoleName.SUPER_ADMIN: tuple(Grant(action, Reach.ANY) for action in _ADMIN_ACTIONS),
    # Vouching for an address is the platform's to do: an NPO admin could
    # otherwise create an account for anyone's address and sign in as them.
    RoleName.NPO_ADMIN: (
        *(Grant(action, Reach.OWN_NPO) for action in _ADMIN_ACTIONS if action is not Action.VERIFY_EMAIL),
        Grant(Action.VIEW, Reach.SELF),
    ),
    RoleName.EVENT_COORDINATOR: (Grant(Action.VIEW, Reach.SELF),),
    RoleName.STAFF: (Grant(Action.VIEW, Reach.SELF),),
    RoleName.DONOR: (Grant(Action.VIEW, Reach.SELF),),
}

# The roles each role may give (by creating a user or changing a role).
ASSIGNABLE: dict[RoleName, frozenset[RoleName]] = {
    RoleName.SUPER_ADMIN: frozenset(RoleName),
    RoleName.NPO_ADMIN: frozenset(NPO_SCOPED_ROLES),
}


@dataclass(frozen=True)
class Party:
    """The facts the policy needs about an actor or a target."""

    id: uuid.UUID
    role: RoleName
    npo_id: uuid.UUID | None


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


def may_act_at_all(actor_role: RoleName, action: Action) -> bool:
    """Whether the role holds ``action`` for anyone (collection routes: list, create, audit)."""
    return any(g.action is action for g in GRANTS[actor_role])


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


class PendingStep(StrEnum):
    """Something a signed-in user must do before the rest of the API is theirs."""

    # An administrator chose the password: only its holder should know the next one.
    PASSWORD_CHANGE = "password_change"


_PENDING_REFUSALS = {
    PendingStep.PASSWORD_CHANGE: (
        ErrorCode.PASSWORD_CHANGE_REQUIRED,
        "Change the temporary password an administrator set before doing anything else.",
    ),
}


def refuse_pending_steps(pending: frozenset[PendingStep], allowed: frozenset[PendingStep]) -> None:
    """403 naming the first step the caller still owes that this route does not allow."""
    for step in PendingStep:
        if step in pending and step not in allowed:
            code, message = _PENDING_REFUSALS[step]
            raise AuthorizationError(message, code=code)


def describe_grants(role: RoleName) -> list[str]:
    """Human-readable capabilities of ``role``, e.g. "users:list on users of their own NPO"."""
    lines = [f"{grant.action.value} on {grant.reach.value}" for grant in GRANTS[role]]
    assignable = sorted(r.value for r in ASSIGNABLE.get(role, frozenset()))
    if assignable:
        lines.append("may assign roles: " + ", ".join(assignable))
    lines.append("users:update_own_profile, sessions:manage_own")
    return lines
