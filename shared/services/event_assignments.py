"""Event assignments: who works which event (event coordinators and staff).

Event ids are the events service's; this service records who is assigned.
An assignment needs the event registered here (``shared.services.events``),
and its assignee must be of the event's NPO: an unregistered event is a 404
``EVENT_NOT_FOUND``, another NPO's a 409 ``EVENT_IN_OTHER_NPO``. An
assignment holds the event's row (FOR SHARE) until it commits, so a move of
the event to another NPO waits for it, and then ends it. Every change drops
the assignee's cached authorization state before it commits, so a check sees
it on the very next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import AuthorizationError, ConflictError, ErrorCode, NotFoundError
from shared.models import Event, EventAssignment, User
from shared.roles_and_permissions import RoleName
from shared.services import audit, user_state
from shared.services.audit import AuditEvent
from shared.services.paging import Page
from shared.services.policy import (
    EVENT_SCOPED_ROLES,
    Action,
    Party,
    decide,
    decide_assignment,
    enforce,
    members_scope,
    refuse_if_erased,
)
from shared.services.principal import Principal

_NOT_YOURS = "You may not manage this user's event assignments."


@dataclass(frozen=True, slots=True)
class Member:
    """A user assigned to an event, and when and by whom."""

    user: User
    assigned_by: uuid.UUID | None
    assigned_at: datetime


def _target(db: DbSession, user_id: uuid.UUID, *, lock: bool) -> User:
    user = db.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NotFoundError("User not found.")
    return user


def list_user_events(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> list[EventAssignment]:
    """A user's assignments: for the user, a super admin, or an NPO admin of the user's NPO."""
    with audit.refusals_recorded(principal, client, target_id=user_id), without_transaction() as db:
        target = _target(db, user_id, lock=False)
        enforce(decide(principal.party, Action.VIEW, Party.of(target)), _NOT_YOURS)
        return list(
            db.scalars(
                select(EventAssignment)
                .where(EventAssignment.user_id == user_id)
                .order_by(EventAssignment.assigned_at, EventAssignment.event_id)
            )
        )


def _held_event_npo(db: DbSession, event_id: uuid.UUID) -> uuid.UUID | None:
    """The NPO the event is registered to (None: not registered), its row held until the commit.

    Taken before the assignee's row, in the order a move takes them (the
    event, then its assignees), so the two never wait for each other in a circle.
    """
    return db.scalar(select(Event.npo_id).where(Event.id == event_id).with_for_update(read=True))


def _refuse_unless_of_npo(event_npo_id: uuid.UUID | None, target: User) -> None:
    """An assignment needs a registered event of the assignee's NPO."""
    if event_npo_id is None:
        raise NotFoundError("Event not found.", code=ErrorCode.EVENT_NOT_FOUND)
    if event_npo_id != target.npo_id:
        raise ConflictError("This event belongs to another NPO.", code=ErrorCode.EVENT_IN_OTHER_NPO)


def assign(
    principal: Principal, user_id: uuid.UUID, event_id: uuid.UUID, client: ClientInfo
) -> tuple[EventAssignment, bool]:
    """Assign a user to an event; the assignment and whether it is new (201) or was there (200)."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        event_npo_id = _held_event_npo(db, event_id)
        target = _target(db, user_id, lock=True)
        enforce(decide_assignment(principal.party, principal.state.events, Party.of(target), event_id), _NOT_YOURS)
        refuse_if_erased(target)
        if RoleName(target.role) not in EVENT_SCOPED_ROLES:
            raise ConflictError(
                "Only event coordinators and staff are assigned to events.", code=ErrorCode.ROLE_NOT_EVENT_SCOPED
            )
        _refuse_unless_of_npo(event_npo_id, target)
        created = db.scalar(
            insert(EventAssignment)
            .values(user_id=user_id, event_id=event_id, assigned_by=principal.user_id)
            .on_conflict_do_nothing(index_elements=["user_id", "event_id"])
            .returning(EventAssignment.id)
        )
        assignment = db.scalars(
            select(EventAssignment).where(EventAssignment.user_id == user_id, EventAssignment.event_id == event_id)
        ).one()
        if created is not None:
            user_state.invalidate(db, [user_id])
            audit.record_on(db, AuditEvent.EVENT_ASSIGNED, client, principal, target, event_id=str(event_id))
    return assignment, created is not None


def unassign(principal: Principal, user_id: uuid.UUID, event_id: uuid.UUID, client: ClientInfo) -> None:
    """Remove a user from an event (nothing to remove is fine: the answer is the same)."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        target = _target(db, user_id, lock=True)
        enforce(decide_assignment(principal.party, principal.state.events, Party.of(target), event_id), _NOT_YOURS)
        removed = db.scalar(
            delete(EventAssignment)
            .where(EventAssignment.user_id == user_id, EventAssignment.event_id == event_id)
            .returning(EventAssignment.id)
        )
        if removed is not None:
            user_state.invalidate(db, [user_id])
            audit.record_on(db, AuditEvent.EVENT_UNASSIGNED, client, principal, target, event_id=str(event_id))


def end_assignments(db: DbSession, user: User) -> list[uuid.UUID]:
    """Remove every assignment of ``user`` in the caller's transaction; the events they left.

    The caller changes the user's state in the same transaction and drops
    the cached state itself.
    """
    return list(
        db.scalars(
            delete(EventAssignment).where(EventAssignment.user_id == user.id).returning(EventAssignment.event_id)
        )
    )


def assignees_outside(db: DbSession, event_id: uuid.UUID, npo_id: uuid.UUID) -> list[User]:
    """The users assigned to the event who are not of ``npo_id`` (the NPO it moves to)."""
    return list(
        db.scalars(
            select(User)
            .join(EventAssignment, EventAssignment.user_id == User.id)
            .where(EventAssignment.event_id == event_id, User.npo_id.is_distinct_from(npo_id))
            .order_by(User.id)
        )
    )


def end_event_assignments(db: DbSession, event_id: uuid.UUID, users: list[User]) -> None:
    """Remove ``users`` from the event, in the caller's transaction (which drops their cached state)."""
    db.execute(
        delete(EventAssignment).where(
            EventAssignment.event_id == event_id, EventAssignment.user_id.in_([user.id for user in users])
        )
    )


def list_members(principal: Principal, event_id: uuid.UUID, page: Page, client: ClientInfo) -> tuple[list[Member], int]:
    """A page of the event's assignees the caller may see, and how many in all."""
    may_list, npo_only = members_scope(principal.party, principal.state.events, event_id)
    with audit.refusals_recorded(principal, client):
        if not may_list:
            raise AuthorizationError("You may not list this event's team.")
    statement = (
        select(User, EventAssignment.assigned_by, EventAssignment.assigned_at)
        .join(EventAssignment, EventAssignment.user_id == User.id)
        .where(EventAssignment.event_id == event_id)
    )
    if npo_only is not None:
        statement = statement.where(User.npo_id == npo_only)
    with without_transaction() as db:
        total = db.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = db.execute(
            statement.order_by(EventAssignment.assigned_at, User.id).offset(page.offset).limit(page.size)
        ).all()
    return [Member(user, assigned_by, assigned_at) for user, assigned_by, assigned_at in rows], total
