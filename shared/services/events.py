"""Registered events: which NPO each event belongs to, said once by someone allowed to say it.

Every decision about an event (who may be assigned to it, what the permission
check answers about it) depends on its NPO, so that NPO is recorded here
rather than inferred from whoever acted first. :func:`register` records it
(a super admin for any NPO, an NPO admin for their own while the event is
unregistered; the policy decides), and only a super admin moves an event to
another NPO: the assignments of users of the NPO it left end in the same
transaction, their cached state dropped before the commit. :func:`get` shows
an event to super admins and the users of its NPO, and answers 404 to anyone
else, as for an event never registered: another NPO's events stay unknown.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import ErrorCode, NotFoundError
from shared.models import Event
from shared.services import audit, event_assignments, user_state
from shared.services.audit import AuditEvent
from shared.services.policy import Registration, decide_registration, may_see_event
from shared.services.principal import Principal


def _not_found() -> NotFoundError:
    return NotFoundError("Event not found.", code=ErrorCode.EVENT_NOT_FOUND)


def get(principal: Principal, event_id: uuid.UUID) -> Event:
    """The registered event, for a super admin or a user of its NPO; 404 for anyone else."""
    with without_transaction() as db:
        event = db.get(Event, event_id)
    if event is None or not may_see_event(principal.party, event.npo_id):
        raise _not_found()
    return event


def register(
    principal: Principal, event_id: uuid.UUID, npo_id: uuid.UUID, name: str | None, client: ClientInfo
) -> tuple[Event, bool]:
    """Say that ``event_id`` belongs to ``npo_id``; the event and whether it is new (201) or
    was registered already (200: unchanged when it was that NPO's, moved when a super admin
    moved it, recorded as registered by them, now)."""
    with audit.refusals_recorded(principal, client), unit_of_work() as db:
        event = db.get(Event, event_id, with_for_update=True)
        if event is None:
            decide_registration(principal.party, npo_id, None)
            event = _inserted(db, principal, event_id, npo_id, name)
            if event is not None:
                audit.record(
                    db,
                    AuditEvent.EVENT_REGISTERED,
                    client,
                    actor_id=principal.user_id,
                    npo_id=npo_id,
                    details={"event_id": str(event_id)},
                )
                return event, True
            # a concurrent registration came first: decided against what it wrote
            event = db.get(Event, event_id, with_for_update=True, populate_existing=True)
            if event is None:  # registered events are never deleted: only a broken database gets here
                raise _not_found()
        if decide_registration(principal.party, npo_id, event.npo_id) is Registration.MOVE:
            _move(db, principal, event, npo_id, client, name=name)
    return event, False


def _inserted(
    db: DbSession, principal: Principal, event_id: uuid.UUID, npo_id: uuid.UUID, name: str | None
) -> Event | None:
    """The new event row, or None when a concurrent registration inserted it first."""
    return db.scalar(
        insert(Event)
        .values(id=event_id, npo_id=npo_id, name=name, registered_by=principal.user_id)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Event)
    )


def _move(
    db: DbSession, principal: Principal, event: Event, npo_id: uuid.UUID, client: ClientInfo, *, name: str | None
) -> None:
    """A super admin moves the event (its row locked): its assignees of other NPOs leave it.

    Their rows are locked (and Redis told) before their assignments go, the
    order every change of a user's state keeps.
    """
    leaving = event_assignments.assignees_outside(db, event.id, npo_id)
    user_state.invalidate(db, [user.id for user in leaving])
    event_assignments.end_event_assignments(db, event.id, leaving)
    for user in leaving:
        audit.record_on(
            db, AuditEvent.EVENT_UNASSIGNED, client, principal, user, event_id=str(event.id), reason="event_moved"
        )
    audit.record(
        db,
        AuditEvent.EVENT_MOVED,
        client,
        actor_id=principal.user_id,
        npo_id=npo_id,
        details={
            "event_id": str(event.id),
            "from_npo_id": str(event.npo_id),
            "to_npo_id": str(npo_id),
            "assignments_ended": len(leaving),
        },
    )
    event.npo_id = npo_id
    event.name = name if name is not None else event.name
    event.registered_by, event.registered_at = principal.user_id, datetime.now(UTC)
    db.flush()
